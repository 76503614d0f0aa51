// SPDX-License-Identifier: Apache-2.0

package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator/tlsconfig"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// validation is the outcome of checking one OIDCIdentityProvider.
type validation struct {
	conditions []metav1.Condition
	// ok is true when every condition is True.
	ok bool
	// retry is true when a failed check may pass later without any change.
	retry bool
	// provider is a newly built provider to store; nil when !ok or when the
	// registry's provider was built from the same configuration.
	provider upstream.Provider
}

func (v *validation) add(typ string, ok bool, reason, message string) {
	status := metav1.ConditionTrue
	if !ok {
		status = metav1.ConditionFalse
		v.ok = false
	}
	v.conditions = append(v.conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: message})
}

// validate checks idp. It returns an error only when reading a referenced object
// failed transiently, so that the reconcile is retried with the current state kept.
func (r *Reconciler) validate(ctx context.Context, idp *idpv1alpha1.OIDCIdentityProvider) (*validation, error) {
	v := &validation{ok: true}
	clientID, clientSecret, err := r.checkSecret(ctx, v, idp)
	if err != nil {
		return nil, err
	}
	var bundle *tlsconfig.Bundle
	if bundle, err = r.checkTLS(ctx, v, idp); err != nil {
		return nil, err
	}
	checkParameters(v, idp)
	if bundle == nil {
		v.conditions = append(v.conditions, metav1.Condition{Type: idpv1alpha1.ConditionOIDCDiscoverySucceeded,
			Status: metav1.ConditionUnknown, Reason: idpv1alpha1.ReasonUnableToValidate, Message: idpv1alpha1.MessageUnableToValidate})
		v.ok = false
		return v, nil
	}
	fp := fingerprint(idp, clientID, clientSecret, bundle.PEM())
	if v.ok && fp != "" && r.current(idp.Name) == fp {
		v.add(idpv1alpha1.ConditionOIDCDiscoverySucceeded, true, idpv1alpha1.ReasonSuccess, "discovered issuer configuration")
		return v, nil
	}
	d, httpClient := r.checkDiscovery(ctx, v, idp, bundle)
	if !v.ok {
		return v, nil
	}
	v.provider, err = New(Config{
		Namespace: idp.Namespace, Name: idp.Name, UID: string(idp.UID),
		Discovery: d, HTTPClient: httpClient, ClientID: clientID, ClientSecret: clientSecret,
		AdditionalScopes:              idp.Spec.AuthorizationConfig.AdditionalScopes,
		AdditionalAuthorizeParameters: idp.Spec.AuthorizationConfig.AdditionalAuthorizeParameters,
		AllowPasswordGrant:            idp.Spec.AuthorizationConfig.AllowPasswordGrant,
		Claims:                        idp.Spec.Claims,
		Clock:                         r.Clock,
		fingerprint:                   fp,
	})
	if err != nil {
		return nil, fmt.Errorf("build provider for OIDCIdentityProvider %s: %w", idp.Name, err)
	}
	return v, nil
}

// checkDiscovery runs discovery against spec.issuer with the trust of bundle and
// returns its result and the HTTP client for the provider (nil on failure).
func (r *Reconciler) checkDiscovery(ctx context.Context, v *validation, idp *idpv1alpha1.OIDCIdentityProvider, bundle *tlsconfig.Bundle) (*Discovery, *http.Client) {
	const typ = idpv1alpha1.ConditionOIDCDiscoverySucceeded
	httpClient := bundle.HTTPClient(r.HTTPTimeout)
	ctx, cancel := context.WithTimeout(ctx, r.HTTPTimeout)
	defer cancel()
	d, err := Discover(ctx, idp.Spec.Issuer, httpClient)
	if err != nil {
		reason := idpv1alpha1.ReasonInvalidResponse
		var de *DiscoveryError
		if errors.As(err, &de) && de.Unreachable {
			reason = idpv1alpha1.ReasonUnreachable
		}
		// The upstream may come back or fix its document without any change here.
		v.retry = true
		v.add(typ, false, reason, "failed to perform OIDC discovery: "+err.Error())
		return nil, nil
	}
	v.add(typ, true, idpv1alpha1.ReasonSuccess, "discovered issuer configuration")
	return d, httpClient
}

// checkSecret checks spec.client.secretName and returns the client credentials.
func (r *Reconciler) checkSecret(ctx context.Context, v *validation, idp *idpv1alpha1.OIDCIdentityProvider) (string, string, error) {
	const typ = idpv1alpha1.ConditionClientCredentialsSecretValid
	name := idp.Spec.Client.SecretName
	secret := &corev1.Secret{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: idp.Namespace, Name: name}, secret); err != nil {
		if !apierrors.IsNotFound(err) {
			return "", "", fmt.Errorf("get client Secret %q: %w", name, err)
		}
		v.add(typ, false, idpv1alpha1.ReasonSecretNotFound, fmt.Sprintf("secret %q not found", name))
		return "", "", nil
	}
	if !idpv1alpha1.IsOIDCClientSecretType(string(secret.Type)) {
		v.add(typ, false, idpv1alpha1.ReasonSecretWrongType, fmt.Sprintf("referenced Secret %q has wrong type %q (should be %q or %q)",
			name, secret.Type, idpv1alpha1.SecretTypeOIDCClient, idpv1alpha1.SecretTypeOIDCClientPinniped))
		return "", "", nil
	}
	id, secretValue := secret.Data[idpv1alpha1.SecretKeyClientID], secret.Data[idpv1alpha1.SecretKeyClientSecret]
	if len(id) == 0 || len(secretValue) == 0 {
		v.add(typ, false, idpv1alpha1.ReasonSecretMissingKeys, fmt.Sprintf("referenced Secret %q is missing required keys %q",
			name, []string{idpv1alpha1.SecretKeyClientID, idpv1alpha1.SecretKeyClientSecret}))
		return "", "", nil
	}
	v.add(typ, true, idpv1alpha1.ReasonSuccess, "loaded client credentials")
	return string(id), string(secretValue), nil
}

// checkTLS loads spec.tls; it returns a nil bundle when the spec is invalid.
func (r *Reconciler) checkTLS(ctx context.Context, v *validation, idp *idpv1alpha1.OIDCIdentityProvider) (*tlsconfig.Bundle, error) {
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

// checkParameters checks that no additional authorize parameter is one the
// supervisor sets itself.
func checkParameters(v *validation, idp *idpv1alpha1.OIDCIdentityProvider) {
	const typ = idpv1alpha1.ConditionAdditionalAuthorizeParametersValid
	if bad := disallowedParameters(idp.Spec.AuthorizationConfig.AdditionalAuthorizeParameters); len(bad) > 0 {
		v.add(typ, false, idpv1alpha1.ReasonDisallowedParameterName,
			"the following additionalAuthorizeParameters are not allowed: "+strings.Join(bad, ","))
		return
	}
	v.add(typ, true, idpv1alpha1.ReasonSuccess, "additionalAuthorizeParameters parameter names are allowed")
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
// unchanged resource keeps its provider without another discovery: a flaky network
// must not evict a working provider. It is a hash and reveals no secret.
func fingerprint(idp *idpv1alpha1.OIDCIdentityProvider, clientID, clientSecret string, caPEM []byte) string {
	b, err := json.Marshal(struct {
		UID          string
		Spec         idpv1alpha1.OIDCIdentityProviderSpec
		ClientID     string
		ClientSecret string
		CA           []byte
	}{string(idp.UID), idp.Spec, clientID, clientSecret, caPEM})
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
