// SPDX-License-Identifier: Apache-2.0

package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/internal/engine"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream/internal/checks"
	"github.com/selkie-dev/selkie/pkg/tlsconfig"
)

// validate checks idp. It returns an error only when reading a referenced object
// failed transiently, so that the reconcile is retried with the current state kept.
func (r *Reconciler) validate(ctx context.Context, idp *idpv1alpha1.OIDCIdentityProvider, current *checks.Current) (*checks.Validation, error) {
	v := checks.NewValidation()
	clientID, clientSecret, err := r.checkSecret(ctx, v, idp)
	if err != nil {
		return nil, err
	}
	var bundle *tlsconfig.Bundle
	if bundle, err = checks.CheckTLS(ctx, r.Client, v, idp.Namespace, "spec.tls", idp.Spec.TLS); err != nil {
		return nil, err
	}
	checkParameters(v, idp)
	if bundle == nil {
		v.Unknown(idpv1alpha1.ConditionOIDCDiscoverySucceeded)
		return v, nil
	}
	fp := fingerprint(idp, clientID, clientSecret, bundle.PEM())
	if v.OK && current.Matches(fp) {
		v.Add(idpv1alpha1.ConditionOIDCDiscoverySucceeded, true, idpv1alpha1.ReasonSuccess, "discovered issuer configuration")
		return v, nil
	}
	d, httpClient := r.checkDiscovery(ctx, v, idp, bundle)
	if !v.OK {
		return v, nil
	}
	p, err := New(Config{
		Namespace: idp.Namespace, Name: idp.Name, UID: string(idp.UID),
		Discovery: d, HTTPClient: httpClient, ClientID: clientID, ClientSecret: clientSecret,
		AdditionalScopes:              idp.Spec.AuthorizationConfig.AdditionalScopes,
		AdditionalAuthorizeParameters: idp.Spec.AuthorizationConfig.AdditionalAuthorizeParameters,
		AllowPasswordGrant:            idp.Spec.AuthorizationConfig.AllowPasswordGrant,
		Claims:                        idp.Spec.Claims,
		Clock:                         r.Clock,
	})
	if err != nil {
		return nil, fmt.Errorf("build provider for OIDCIdentityProvider %s: %w", idp.Name, err)
	}
	v.Build(p, fp)
	return v, nil
}

// checkDiscovery runs discovery against spec.issuer with the trust of bundle and
// returns its result and the HTTP client for the provider (nil on failure).
func (r *Reconciler) checkDiscovery(ctx context.Context, v *checks.Validation, idp *idpv1alpha1.OIDCIdentityProvider, bundle *tlsconfig.Bundle) (*Discovery, *http.Client) {
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
		v.Retry = true
		v.Add(typ, false, reason, "failed to perform OIDC discovery: "+err.Error())
		return nil, nil
	}
	v.Add(typ, true, idpv1alpha1.ReasonSuccess, "discovered issuer configuration")
	return d, httpClient
}

// checkSecret checks spec.client.secretName and returns the client credentials.
func (r *Reconciler) checkSecret(ctx context.Context, v *checks.Validation, idp *idpv1alpha1.OIDCIdentityProvider) (string, string, error) {
	return checks.CheckSecret(ctx, r.Client, v, idp.Namespace, idp.Spec.Client.SecretName, checks.SecretCheck{
		Condition: idpv1alpha1.ConditionClientCredentialsSecretValid,
		Purpose:   "client",
		Types:     []string{idpv1alpha1.SecretTypeOIDCClient, idpv1alpha1.SecretTypeOIDCClientPinniped},
		Keys:      [2]string{idpv1alpha1.SecretKeyClientID, idpv1alpha1.SecretKeyClientSecret},
		Loaded:    "loaded client credentials",
	})
}

// checkParameters checks that no additional authorize parameter is one the
// supervisor sets itself.
func checkParameters(v *checks.Validation, idp *idpv1alpha1.OIDCIdentityProvider) {
	const typ = idpv1alpha1.ConditionAdditionalAuthorizeParametersValid
	if bad := disallowedParameters(idp.Spec.AuthorizationConfig.AdditionalAuthorizeParameters); len(bad) > 0 {
		v.Add(typ, false, idpv1alpha1.ReasonDisallowedParameterName,
			"the following additionalAuthorizeParameters are not allowed: "+strings.Join(bad, ","))
		return
	}
	v.Add(typ, true, idpv1alpha1.ReasonSuccess, "additionalAuthorizeParameters parameter names are allowed")
}

// fingerprint identifies the configuration a provider is built from, so that an
// unchanged resource keeps its provider without another discovery: a flaky network
// must not evict a working provider. It is a hash and reveals no secret.
func fingerprint(idp *idpv1alpha1.OIDCIdentityProvider, clientID, clientSecret string, caPEM []byte) string {
	return engine.Fingerprint(struct {
		UID          string
		Spec         idpv1alpha1.OIDCIdentityProviderSpec
		ClientID     string
		ClientSecret string
		CA           []byte
	}{string(idp.UID), idp.Spec, clientID, clientSecret, caPEM})
}
