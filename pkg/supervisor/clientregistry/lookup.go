// SPDX-License-Identifier: Apache-2.0

package clientregistry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
)

// Lookup finds the OIDCClients of one namespace for the OIDC provider. Reads go through
// the manager's cache, so a new secret is seen as soon as the cache has its Secret.
type Lookup struct {
	// Client reads OIDCClients.
	Client    client.Reader
	Secrets   *SecretStore
	Namespace string
}

// ValidName reports whether name can be an OIDCClient's name, and so a client ID:
// the contract's prefix followed by something.
func ValidName(name string) bool {
	return strings.HasPrefix(name, configv1alpha1.OIDCClientNamePrefix) && len(name) > len(configv1alpha1.OIDCClientNamePrefix)
}

// Find returns the client with id, or oidcprovider.ErrUnknownClient when there is no
// such OIDCClient or it is not Ready. It matches oidcprovider.ClientLookup.
//
// Besides the phase the controller wrote, it re-checks the spec and the hashes it
// returns: the status may lag behind a change by a moment, and a client must never be
// served with a spec or secret the controller would reject.
func (l *Lookup) Find(ctx context.Context, id string) (*oidcprovider.Client, error) {
	if !ValidName(id) {
		return nil, oidcprovider.ErrUnknownClient
	}
	var oc configv1alpha1.OIDCClient
	if err := l.Client.Get(ctx, client.ObjectKey{Namespace: l.Namespace, Name: id}, &oc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, oidcprovider.ErrUnknownClient
		}
		return nil, fmt.Errorf("get OIDCClient %s: %w", id, err)
	}
	if oc.Status.Phase != configv1alpha1.OIDCClientPhaseReady || oc.DeletionTimestamp != nil {
		return nil, oidcprovider.ErrUnknownClient
	}
	hashes, err := l.Secrets.Get(ctx, &oc)
	switch {
	case errors.Is(err, ErrUnreadable):
		return nil, oidcprovider.ErrUnknownClient
	case err != nil:
		return nil, err
	}
	if !evaluate(&oc.Spec, hashes.List, nil).ready {
		return nil, oidcprovider.ErrUnknownClient
	}
	return toClient(&oc, hashes.List), nil
}

func toClient(oc *configv1alpha1.OIDCClient, hashes []string) *oidcprovider.Client {
	c := &oidcprovider.Client{ID: oc.Name}
	for _, u := range oc.Spec.AllowedRedirectURIs {
		c.RedirectURIs = append(c.RedirectURIs, string(u))
	}
	for _, g := range oc.Spec.AllowedGrantTypes {
		c.GrantTypes = append(c.GrantTypes, string(g))
	}
	for _, s := range oc.Spec.AllowedScopes {
		c.Scopes = append(c.Scopes, string(s))
	}
	if secs := oc.Spec.TokenLifetimes.IDTokenSeconds; secs != nil {
		c.IDTokenLifetime = time.Duration(*secs) * time.Second
	}
	for _, h := range hashes {
		c.SecretHashes = append(c.SecretHashes, []byte(h))
	}
	return c
}
