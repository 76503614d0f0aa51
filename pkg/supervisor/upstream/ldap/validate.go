// SPDX-License-Identifier: Apache-2.0

package ldap

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/internal/engine"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream/internal/checks"
	"github.com/selkie-dev/selkie/pkg/tlsconfig"
)

// validate checks idp: its bind Secret, its TLS trust, its searches and, unless the
// registry already has a provider built from the same configuration, a real connection
// and bind. It returns an error only when reading a referenced object failed
// transiently, so that the reconcile is retried with the current state kept.
func (r *Reconciler) validate(ctx context.Context, idp *idpv1alpha1.LDAPIdentityProvider, current *checks.Current) (*checks.Validation, error) {
	const typ = idpv1alpha1.ConditionLDAPConnectionValid
	v := checks.NewValidation()
	// Active Directory adds SearchBaseFound after LDAPConnectionValid (see
	// findSearchBases).
	bindUsername, bindPassword, err := r.checkSecret(ctx, v, idp)
	if err != nil {
		return nil, err
	}
	bundle, err := checks.CheckTLS(ctx, r.Client, v, idp.Namespace, "spec.tls", idp.Spec.TLS)
	if err != nil {
		return nil, err
	}
	if !v.OK {
		r.unableToConnect(v)
		return v, nil
	}
	cfg := r.config(idp, bindUsername, bindPassword, bundle)
	if err := checkSearches(cfg); err != nil {
		v.Add(typ, false, idpv1alpha1.ReasonInvalidSearchConfiguration, err.Error())
		r.unableToFindSearchBase(v)
		return v, nil
	}
	if _, _, err := SplitHost(idp.Spec.Host); err != nil {
		v.Add(typ, false, idpv1alpha1.ReasonLDAPConnectionError, "spec.host: "+err.Error())
		r.unableToFindSearchBase(v)
		return v, nil
	}
	fp := fingerprint(idp, bindUsername, bindPassword, bundle.PEM())
	if cur := stored(current, fp); cur != nil {
		v.Add(typ, true, idpv1alpha1.ReasonSuccess, connectedMessage(idp.Spec.Host, cur.Protocol(), bindUsername))
		if r.activeDirectory {
			searchBaseFound(v, cfg, cur.user.Base, cur.group.Base)
		}
		return v, nil
	}
	proto, err := Probe(ctx, r.Dial, cfg.Endpoint, bindUsername, bindPassword)
	if err != nil {
		// The server may come back, or its certificate be fixed, without any change here.
		v.Retry = true
		v.Add(typ, false, idpv1alpha1.ReasonLDAPConnectionError,
			fmt.Sprintf("could not successfully connect to %q and bind as user %q: %v", idp.Spec.Host, bindUsername, err))
		r.unableToFindSearchBase(v)
		return v, nil
	}
	cfg.Endpoint.Protocol = proto
	v.Add(typ, true, idpv1alpha1.ReasonSuccess, connectedMessage(idp.Spec.Host, proto, bindUsername))
	if r.activeDirectory && !r.findSearchBases(ctx, v, &cfg) {
		return v, nil
	}
	p, err := New(cfg)
	if err != nil {
		return nil, fmt.Errorf("build provider for %s %s: %w", r.kind(), idp.Name, err)
	}
	v.Build(p, fp)
	return v, nil
}

// checkSearches checks the searches of cfg as New will see them. Active Directory
// search bases left empty are checked as if the root DSE had filled them.
func checkSearches(cfg Config) error {
	user, group := cfg.UserSearch, cfg.GroupSearch
	if cfg.ActiveDirectory {
		user, group = withActiveDirectoryDefaults(user, group)
		if user.Base == "" {
			user.Base = "dc=example"
		}
		if group.Base == "" {
			group.Base = "dc=example"
		}
	}
	_, _, err := withDefaults(user, group)
	return err
}

// unableToConnect marks the connection (and, for Active Directory, the search bases)
// as not checked because an earlier check failed.
func (r *Reconciler) unableToConnect(v *checks.Validation) {
	v.Unknown(idpv1alpha1.ConditionLDAPConnectionValid)
	r.unableToFindSearchBase(v)
}

func (r *Reconciler) unableToFindSearchBase(v *checks.Validation) {
	if r.activeDirectory {
		v.Unknown(idpv1alpha1.ConditionSearchBaseFound)
	}
}

func connectedMessage(host string, proto Protocol, bindUsername string) string {
	return fmt.Sprintf("successfully able to connect to %q using %s and bind as user %q", host, proto, bindUsername)
}

// config is the provider configuration of idp (without the protocol, which the probe
// finds, and without the search defaults, which New applies).
func (r *Reconciler) config(idp *idpv1alpha1.LDAPIdentityProvider, bindUsername, bindPassword string, bundle *tlsconfig.Bundle) Config {
	s := idp.Spec
	return Config{
		Namespace: idp.Namespace, Name: idp.Name, UID: string(idp.UID),
		Endpoint: Endpoint{Host: s.Host, RootCAs: bundle.CertPool(), Timeout: r.Timeout},
		Dial:     r.Dial, BindUsername: bindUsername, BindPassword: bindPassword,
		UserSearch: UserSearch{Base: s.UserSearch.Base, Filter: s.UserSearch.Filter,
			UsernameAttribute: s.UserSearch.Attributes.Username, UIDAttribute: s.UserSearch.Attributes.UID},
		GroupSearch: GroupSearch{Base: s.GroupSearch.Base, Filter: s.GroupSearch.Filter,
			UserAttributeForFilter: s.GroupSearch.UserAttributeForFilter,
			GroupNameAttribute:     s.GroupSearch.Attributes.GroupName, SkipGroupRefresh: s.GroupSearch.SkipGroupRefresh},
		ActiveDirectory: r.activeDirectory,
	}
}

// checkSecret checks spec.bind.secretName and returns the bind username and password.
func (r *Reconciler) checkSecret(ctx context.Context, v *checks.Validation, idp *idpv1alpha1.LDAPIdentityProvider) (string, string, error) {
	return checks.CheckSecret(ctx, r.Client, v, idp.Namespace, idp.Spec.Bind.SecretName, checks.SecretCheck{
		Condition: idpv1alpha1.ConditionBindSecretValid,
		Purpose:   "bind",
		Types:     []string{string(corev1.SecretTypeBasicAuth)},
		Keys:      [2]string{corev1.BasicAuthUsernameKey, corev1.BasicAuthPasswordKey},
		Loaded:    "loaded bind secret",
	})
}

// stored returns the provider current holds when it was built from the configuration
// with fingerprint fp, else nil.
func stored(current *checks.Current, fp string) *Provider {
	if !current.Matches(fp) {
		return nil
	}
	p, _ := current.Value.(*Provider)
	return p
}

// fingerprint identifies the configuration a provider is built from, so that an
// unchanged resource keeps its provider without another probe: a flaky network must not
// evict a working provider. It is a hash and reveals no secret.
func fingerprint(idp *idpv1alpha1.LDAPIdentityProvider, bindUsername, bindPassword string, caPEM []byte) string {
	return engine.Fingerprint(struct {
		UID          string
		Spec         idpv1alpha1.LDAPIdentityProviderSpec
		BindUsername string
		BindPassword string
		CA           []byte
	}{string(idp.UID), idp.Spec, bindUsername, bindPassword, caPEM})
}
