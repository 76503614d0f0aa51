// SPDX-License-Identifier: Apache-2.0

package clientregistry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/clientregistry"
	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
)

// Lookup's signature is the provider's.
var _ oidcprovider.ClientLookup = (*clientregistry.Lookup)(nil).Find

func TestLookupFind(t *testing.T) {
	t.Parallel()
	seconds := int32(600)
	tests := []struct {
		name    string
		id      string
		modify  func(*configv1alpha1.OIDCClient)
		hashes  []string
		want    *oidcprovider.Client
		wantErr error
	}{
		{name: "ready client", id: clientName, hashes: []string{hash12, hash12 + "x"},
			modify: func(oc *configv1alpha1.OIDCClient) { oc.Spec.TokenLifetimes.IDTokenSeconds = &seconds },
			want: &oidcprovider.Client{ID: clientName,
				RedirectURIs:    []string{"https://app.example.com/callback", "http://127.0.0.1/callback"},
				GrantTypes:      []string{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:token-exchange"},
				Scopes:          []string{"openid", "offline_access", "pinniped:request-audience", "username", "groups"},
				IDTokenLifetime: 10 * time.Minute, SecretHashes: [][]byte{[]byte(hash12), []byte(hash12 + "x")}}},
		{name: "no prefix", id: "my-app", wantErr: oidcprovider.ErrUnknownClient},
		{name: "bare prefix", id: configv1alpha1.OIDCClientNamePrefix, wantErr: oidcprovider.ErrUnknownClient},
		{name: "no such client", id: clientName + "-other", hashes: []string{hash12}, wantErr: oidcprovider.ErrUnknownClient},
		{name: "not Ready", id: clientName, hashes: []string{hash12},
			modify: func(oc *configv1alpha1.OIDCClient) { oc.Status.Phase = configv1alpha1.OIDCClientPhaseError }, wantErr: oidcprovider.ErrUnknownClient},
		{name: "Pending", id: clientName, hashes: []string{hash12},
			modify: func(oc *configv1alpha1.OIDCClient) { oc.Status.Phase = "" }, wantErr: oidcprovider.ErrUnknownClient},
		{name: "secrets revoked since the status was written", id: clientName, wantErr: oidcprovider.ErrUnknownClient},
		{name: "weak hash stored since the status was written", id: clientName, hashes: []string{hash11}, wantErr: oidcprovider.ErrUnknownClient},
		{name: "spec made invalid since the status was written", id: clientName, hashes: []string{hash12},
			modify: func(oc *configv1alpha1.OIDCClient) {
				oc.Spec.AllowedScopes = []configv1alpha1.Scope{configv1alpha1.ScopeOpenID}
			}, wantErr: oidcprovider.ErrUnknownClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			oc := validClient("uid-1")
			oc.Status.Phase = configv1alpha1.OIDCClientPhaseReady
			if tt.modify != nil {
				tt.modify(oc)
			}
			f := newFixture(t, nil, oc)
			if tt.hashes != nil {
				f.storeHashes(t, oc, tt.hashes...)
			}
			l := &clientregistry.Lookup{Client: f.client, Secrets: f.store, Namespace: ns}
			got, err := l.Find(context.Background(), tt.id)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Find: %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("client (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLookupFindAPIError checks a failing API read is an error, not an unknown client
// (the provider logs it).
func TestLookupFindAPIError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	f := newFixture(t, &interceptor.Funcs{Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
		return boom
	}})
	l := &clientregistry.Lookup{Client: f.client, Secrets: f.store, Namespace: ns}
	if _, err := l.Find(context.Background(), clientName); !errors.Is(err, boom) {
		t.Errorf("Find: %v, want the API error", err)
	}
}
