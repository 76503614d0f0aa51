// SPDX-License-Identifier: Apache-2.0

package federationdomain

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/internal/engine"
	"github.com/selkie-dev/selkie/pkg/logfingerprint"
	"github.com/selkie-dev/selkie/pkg/servermetrics"
	"github.com/selkie-dev/selkie/pkg/supervisor/keys"
	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// resync bounds how stale anything the controller does not watch can get.
const resync = time.Minute

// Reconciler validates every FederationDomain of one namespace, keeps their key Secrets
// and serves the usable ones through Router. All domains are reconciled together, since
// issuer uniqueness and TLS Secrets per hostname depend on all of them.
type Reconciler struct {
	Client    client.Client
	Namespace string
	// IdPGroup is idp.supervisor.<suffix>; FDGroupVersion the FederationDomain's apiVersion.
	IdPGroup       string
	FDGroupVersion string
	Registry       *upstream.Registry
	Keys           *keys.Manager
	Store          sessionstore.Store
	Router         *Router
	Lifetimes      oidcprovider.Lifetimes
	Clients        oidcprovider.ClientLookup
	// LogUserInfo puts usernames and groups in audit events.
	LogUserInfo bool
	// Fingerprint keys the usernames' fingerprints in audit events (nil: a random key).
	Fingerprint *logfingerprint.Key
	// Limits are the replica's rate limits, shared by every FederationDomain.
	Limits *oidcprovider.Limits
	// DefaultTLSSecret names a kubernetes.io/tls Secret of the namespace served to TLS
	// clients that match no domain's certificate by server name (an IP-address issuer's
	// clients send none); empty means none.
	DefaultTLSSecret string
	Clock            func() time.Time
	Log              *slog.Logger

	activeKeys sync.Map // FederationDomain name -> ID of the active signing key last seen
}

// Reconcile brings every FederationDomain of the namespace up to date.
func (r *Reconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	var fds configv1alpha1.FederationDomainList
	if err := r.Client.List(ctx, &fds, client.InNamespace(r.Namespace)); err != nil {
		return ctrl.Result{}, fmt.Errorf("list FederationDomains: %w", err)
	}
	existing, readyElsewhere, err := r.existingIdPs(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	verdicts := validateAll(ctx, fds.Items, existing, r.IdPGroup)
	var providers []*oidcprovider.Provider
	certs := map[string]*tls.Certificate{}
	again := r.now().Add(resync)
	var firstErr error
	for i := range fds.Items {
		fd := &fds.Items[i]
		v := verdicts[string(fd.UID)]
		status := fd.Status.DeepCopy()
		if v.issuerOK {
			p, next, err := r.serve(ctx, fd, v, status)
			if err != nil {
				r.Log.ErrorContext(ctx, "could not serve a FederationDomain", "name", fd.Name, "error", err)
				firstErr = cmpErr(firstErr, err)
			}
			if p != nil {
				providers = append(providers, p)
				r.addCert(ctx, fd, certs)
			}
			if !next.IsZero() && next.Before(again) {
				again = next
			}
		}
		r.setConditions(fd, status, v)
		if err := r.writeStatus(ctx, fd, status); err != nil {
			firstErr = cmpErr(firstErr, err)
		}
	}
	r.addDefaultCert(ctx, certs)
	r.Router.Set(providers, certs)
	if firstErr == nil && len(readyElsewhere) == 0 {
		r.Router.MarkReady()
	} else if !r.Router.Ready() {
		r.Log.InfoContext(ctx, "waiting for identity providers before serving", "pending", fmt.Sprint(readyElsewhere))
	}
	if firstErr != nil {
		return ctrl.Result{}, firstErr
	}
	return ctrl.Result{RequeueAfter: max(time.Until(again), time.Second)}, nil
}

// serve keeps the domain's key Secrets and, when it may be served, builds its provider.
// It returns when the keys next need attention.
func (r *Reconciler) serve(ctx context.Context, fd *configv1alpha1.FederationDomain, v *verdict, status *configv1alpha1.FederationDomainStatus) (*oidcprovider.Provider, time.Time, error) {
	truth := true
	owner := metav1.OwnerReference{APIVersion: r.FDGroupVersion, Kind: "FederationDomain", Name: fd.Name, UID: fd.UID, Controller: &truth}
	names := configv1alpha1.FederationDomainSecrets{
		JWKS:               corev1.LocalObjectReference{Name: fd.Name + "-jwks"},
		TokenSigningKey:    corev1.LocalObjectReference{Name: fd.Name + "-token-signing-key"},
		StateSigningKey:    corev1.LocalObjectReference{Name: fd.Name + "-state-signing-key"},
		StateEncryptionKey: corev1.LocalObjectReference{Name: fd.Name + "-state-encryption-key"},
	}
	set, next, err := r.Keys.Reconcile(ctx, names.JWKS.Name, owner)
	if err != nil {
		return nil, time.Time{}, err
	}
	r.countRotation(fd.Name, set)
	symmetric := map[string][]byte{}
	for _, name := range []string{names.TokenSigningKey.Name, names.StateSigningKey.Name, names.StateEncryptionKey.Name} {
		if symmetric[name], err = r.Keys.Symmetric(ctx, name, owner); err != nil {
			return nil, next, err
		}
	}
	status.Secrets = names
	if !v.serve {
		return nil, next, nil
	}
	p, err := oidcprovider.New(oidcprovider.Config{
		Issuer: fd.Spec.Issuer, Name: fd.Name, IdPs: r.usableIdPs(v), Legacy: v.legacy, Keys: func() *keys.Set { return set },
		TokenKey: symmetric[names.TokenSigningKey.Name], StateSigningKey: symmetric[names.StateSigningKey.Name],
		StateEncryptionKey: symmetric[names.StateEncryptionKey.Name], Store: r.Store, Clients: r.Clients,
		Lifetimes: r.Lifetimes, LogUserInfo: r.LogUserInfo, Fingerprint: r.Fingerprint, Limits: r.Limits, Clock: r.Clock, Log: r.Log,
	})
	return p, next, err
}

// usableIdPs are the domain's identity providers that are ready now and not disabled
// by their transforms, each with its compiled transforms.
func (r *Reconciler) usableIdPs(v *verdict) []oidcprovider.IdP {
	var out []oidcprovider.IdP
	for _, ref := range v.idps {
		p, ok := r.Registry.Get(ref.key)
		if !ok || ref.disabled {
			continue
		}
		idp := oidcprovider.IdP{DisplayName: ref.displayName, Provider: p}
		if !ref.pipeline.Empty() {
			idp.Transform = transformFunc(ref.pipeline)
		}
		if ref.spec != nil && ref.spec.SessionLifetimeSeconds != nil {
			idp.SessionLifetime = time.Duration(*ref.spec.SessionLifetimeSeconds) * time.Second
		}
		out = append(out, idp)
	}
	return out
}

// addCert loads the domain's SNI certificate, if it names one and its host is a name.
func (r *Reconciler) addCert(ctx context.Context, fd *configv1alpha1.FederationDomain, certs map[string]*tls.Certificate) {
	if fd.Spec.TLS == nil || fd.Spec.TLS.SecretName == "" {
		return
	}
	u, err := parseIssuer(fd.Spec.Issuer)
	if err != nil {
		return
	}
	var secret corev1.Secret
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: fd.Spec.TLS.SecretName}, &secret); err != nil {
		r.Log.WarnContext(ctx, "could not read a FederationDomain's TLS Secret", "name", fd.Name, "secret", fd.Spec.TLS.SecretName, "error", err)
		return
	}
	cert, err := tls.X509KeyPair(secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		r.Log.WarnContext(ctx, "a FederationDomain's TLS Secret has no valid certificate", "name", fd.Name, "secret", fd.Spec.TLS.SecretName, "error", err)
		return
	}
	certs[strings.ToLower(u.Hostname())] = &cert
}

// addDefaultCert loads DefaultTLSSecret as the certificate for any server name, keyed "".
// A missing or invalid Secret is logged and leaves the listener's own default in place.
func (r *Reconciler) addDefaultCert(ctx context.Context, certs map[string]*tls.Certificate) {
	if r.DefaultTLSSecret == "" {
		return
	}
	var secret corev1.Secret
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: r.DefaultTLSSecret}, &secret); err != nil {
		r.Log.WarnContext(ctx, "could not read the default TLS Secret", "secret", r.DefaultTLSSecret, "error", err)
		return
	}
	cert, err := tls.X509KeyPair(secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		r.Log.WarnContext(ctx, "the default TLS Secret has no valid certificate", "secret", r.DefaultTLSSecret, "error", err)
		return
	}
	certs[""] = &cert
}

// existingIdPs lists the identity provider resources of every kind in the namespace, and
// those whose status says Ready but which are not (yet) in this process's registry: at
// startup, the IdP controllers have not caught up with them.
func (r *Reconciler) existingIdPs(ctx context.Context) (existing, readyElsewhere []upstream.Key, err error) {
	lists := map[string]client.ObjectList{
		upstream.KindOIDC: &idpv1alpha1.OIDCIdentityProviderList{}, upstream.KindLDAP: &idpv1alpha1.LDAPIdentityProviderList{},
		upstream.KindActiveDirectory: &idpv1alpha1.ActiveDirectoryIdentityProviderList{}, upstream.KindGitHub: &idpv1alpha1.GitHubIdentityProviderList{},
	}
	for kind, list := range lists {
		if err := r.Client.List(ctx, list, client.InNamespace(r.Namespace)); err != nil {
			return nil, nil, fmt.Errorf("list %ss: %w", kind, err)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return nil, nil, err
		}
		for _, item := range items {
			o, ok := item.(client.Object)
			if !ok {
				continue
			}
			key := upstream.Key{Kind: kind, Name: o.GetName()}
			existing = append(existing, key)
			if _, inRegistry := r.Registry.Get(key); !inRegistry && statusPhase(item) == "Ready" {
				readyElsewhere = append(readyElsewhere, key)
			}
		}
	}
	return existing, readyElsewhere, nil
}

// statusPhase reads status.phase of any identity provider kind.
func statusPhase(obj runtime.Object) string {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return ""
	}
	phase, _, _ := unstructured.NestedString(u, "status", "phase")
	return phase
}

func (r *Reconciler) setConditions(fd *configv1alpha1.FederationDomain, status *configv1alpha1.FederationDomainStatus, v *verdict) {
	engine.SetConditions(&status.Conditions, v.conditions, fd.Generation, r.now())
	status.Phase = configv1alpha1.FederationDomainPhaseError
	if v.ready {
		status.Phase = configv1alpha1.FederationDomainPhaseReady
	}
}

func (r *Reconciler) writeStatus(ctx context.Context, fd *configv1alpha1.FederationDomain, status *configv1alpha1.FederationDomainStatus) error {
	updated := fd.DeepCopy()
	updated.Status = *status
	_, err := engine.WriteStatus(ctx, r.Client, "FederationDomain", fd, updated,
		func(fd *configv1alpha1.FederationDomain) any { return fd.Status })
	return err
}

func (r *Reconciler) now() time.Time {
	if r.Clock != nil {
		return r.Clock()
	}
	return time.Now()
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// countRotation counts a change of the domain's active signing key since the last
// reconcile of this replica (the first one it sees is not a rotation).
func (r *Reconciler) countRotation(fd string, set *keys.Set) {
	if set == nil || set.Active == nil {
		return
	}
	if prev, seen := r.activeKeys.Swap(fd, set.Active.ID); seen && prev != set.Active.ID {
		servermetrics.SigningKeyRotations.WithLabelValues(fd).Inc()
	}
}
