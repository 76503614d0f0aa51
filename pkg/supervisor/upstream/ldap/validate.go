// SPDX-License-Identifier: Apache-2.0

package ldap

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator/tlsconfig"
)

// validation is the outcome of checking one LDAPIdentityProvider.
type validation struct {
	conditions []metav1.Condition
	// ok is true when every condition is True.
	ok bool
	// retry is true when a failed check may pass later without any change.
	retry bool
	// provider is a newly built provider to store; nil when !ok or when the registry's
	// provider was built from the same configuration.
	provider *Provider
}

func (v *validation) add(typ string, ok bool, reason, message string) {
	status := metav1.ConditionTrue
	if !ok {
		status = metav1.ConditionFalse
		v.ok = false
	}
	v.conditions = append(v.conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: message})
}

func (v *validation) unableToValidate(typ string) {
	v.conditions = append(v.conditions, metav1.Condition{Type: typ, Status: metav1.ConditionUnknown,
		Reason: idpv1alpha1.ReasonUnableToValidate, Message: idpv1alpha1.MessageUnableToValidate})
	v.ok = false
}

// validate checks idp: its bind Secret, its TLS trust, its searches and, unless the
// registry already has a provider built from the same configuration, a real connection
// and bind. It returns an error only when reading a referenced object failed
// transiently, so that the reconcile is retried with the current state kept.
func (r *Reconciler) validate(ctx context.Context, idp *idpv1alpha1.LDAPIdentityProvider) (*validation, error) {
	const typ = idpv1alpha1.ConditionLDAPConnectionValid
	v := &validation{ok: true}
	// Active Directory adds SearchBaseFound after LDAPConnectionValid (see
	// findSearchBases).
	bindUsername, bindPassword, err := r.checkSecret(ctx, v, idp)
	if err != nil {
		return nil, err
	}
	bundle, err := r.checkTLS(ctx, v, idp)
	if err != nil {
		return nil, err
	}
	if !v.ok {
		r.unableToConnect(v)
		return v, nil
	}
	cfg := r.config(idp, bindUsername, bindPassword, bundle)
	if err := checkSearches(cfg); err != nil {
		v.add(typ, false, idpv1alpha1.ReasonInvalidSearchConfiguration, err.Error())
		r.unableToFindSearchBase(v)
		return v, nil
	}
	if _, _, err := SplitHost(idp.Spec.Host); err != nil {
		v.add(typ, false, idpv1alpha1.ReasonLDAPConnectionError, "spec.host: "+err.Error())
		r.unableToFindSearchBase(v)
		return v, nil
	}
	cfg.fingerprint = fingerprint(idp, bindUsername, bindPassword, bundle.PEM())
	if cur := r.current(idp.Name); cur != nil && cfg.fingerprint != "" && cur.fingerprint == cfg.fingerprint {
		v.add(typ, true, idpv1alpha1.ReasonSuccess, connectedMessage(idp.Spec.Host, cur.Protocol(), bindUsername))
		if r.activeDirectory {
			searchBaseFound(v, cfg, cur.user.Base, cur.group.Base)
		}
		return v, nil
	}
	proto, err := Probe(ctx, r.Dial, cfg.Endpoint, bindUsername, bindPassword)
	if err != nil {
		// The server may come back, or its certificate be fixed, without any change here.
		v.retry = true
		v.add(typ, false, idpv1alpha1.ReasonLDAPConnectionError,
			fmt.Sprintf("could not successfully connect to %q and bind as user %q: %v", idp.Spec.Host, bindUsername, err))
		r.unableToFindSearchBase(v)
		return v, nil
	}
	cfg.Endpoint.Protocol = proto
	v.add(typ, true, idpv1alpha1.ReasonSuccess, connectedMessage(idp.Spec.Host, proto, bindUsername))
	if r.activeDirectory && !r.findSearchBases(ctx, v, &cfg) {
		return v, nil
	}
	if v.provider, err = New(cfg); err != nil {
		return nil, fmt.Errorf("build provider for %s %s: %w", r.key(idp.Name).Kind, idp.Name, err)
	}
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
func (r *Reconciler) unableToConnect(v *validation) {
	v.unableToValidate(idpv1alpha1.ConditionLDAPConnectionValid)
	r.unableToFindSearchBase(v)
}

func (r *Reconciler) unableToFindSearchBase(v *validation) {
	if r.activeDirectory {
		v.unableToValidate(idpv1alpha1.ConditionSearchBaseFound)
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
func (r *Reconciler) checkSecret(ctx context.Context, v *validation, idp *idpv1alpha1.LDAPIdentityProvider) (string, string, error) {
	const typ = idpv1alpha1.ConditionBindSecretValid
	name := idp.Spec.Bind.SecretName
	secret := &corev1.Secret{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: idp.Namespace, Name: name}, secret); err != nil {
		if !apierrors.IsNotFound(err) {
			return "", "", fmt.Errorf("get bind Secret %q: %w", name, err)
		}
		v.add(typ, false, idpv1alpha1.ReasonSecretNotFound, fmt.Sprintf("secret %q not found", name))
		return "", "", nil
	}
	if secret.Type != corev1.SecretTypeBasicAuth {
		v.add(typ, false, idpv1alpha1.ReasonSecretWrongType, fmt.Sprintf("referenced Secret %q has wrong type %q (should be %q)",
			name, secret.Type, corev1.SecretTypeBasicAuth))
		return "", "", nil
	}
	username, password := secret.Data[corev1.BasicAuthUsernameKey], secret.Data[corev1.BasicAuthPasswordKey]
	if len(username) == 0 || len(password) == 0 {
		v.add(typ, false, idpv1alpha1.ReasonSecretMissingKeys, fmt.Sprintf("referenced Secret %q is missing required keys %q",
			name, []string{corev1.BasicAuthUsernameKey, corev1.BasicAuthPasswordKey}))
		return "", "", nil
	}
	v.add(typ, true, idpv1alpha1.ReasonSuccess, "loaded bind secret")
	return string(username), string(password), nil
}

// checkTLS loads spec.tls; it returns a nil bundle when the spec is invalid.
func (r *Reconciler) checkTLS(ctx context.Context, v *validation, idp *idpv1alpha1.LDAPIdentityProvider) (*tlsconfig.Bundle, error) {
	const typ = idpv1alpha1.ConditionTLSConfigurationValid
	bundle, err := tlsconfig.Load(ctx, r.Client, idp.Namespace, "spec.tls", tlsSpec(idp.Spec.TLS))
	switch {
	case tlsconfig.IsTransient(err):
		return nil, err
	case err != nil:
		v.add(typ, false, idpv1alpha1.ReasonInvalidTLSConfig, err.Error())
		return nil, nil
	case bundle.PEM() == nil:
		v.add(typ, true, idpv1alpha1.ReasonSuccess, "spec.tls is valid: using the system trust roots")
	default:
		v.add(typ, true, idpv1alpha1.ReasonSuccess, "spec.tls is valid: using the configured CA bundle")
	}
	return bundle, nil
}

// tlsSpec converts spec.tls to the kind-neutral form; nil means the system roots.
func tlsSpec(s *idpv1alpha1.TLSSpec) tlsconfig.Spec {
	if s == nil {
		return tlsconfig.Spec{}
	}
	out := tlsconfig.Spec{CertificateAuthorityData: s.CertificateAuthorityData}
	if src := s.CertificateAuthorityDataSource; src != nil {
		out.Source = &tlsconfig.Source{Kind: string(src.Kind), Name: src.Name, Key: src.Key}
	}
	return out
}

// fingerprint identifies the configuration a provider is built from, so that an
// unchanged resource keeps its provider without another probe: a flaky network must not
// evict a working provider. It is a hash and reveals no secret.
func fingerprint(idp *idpv1alpha1.LDAPIdentityProvider, bindUsername, bindPassword string, caPEM []byte) string {
	b, err := json.Marshal(struct {
		UID          string
		Spec         idpv1alpha1.LDAPIdentityProviderSpec
		BindUsername string
		BindPassword string
		CA           []byte
	}{string(idp.UID), idp.Spec, bindUsername, bindPassword, caPEM})
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
