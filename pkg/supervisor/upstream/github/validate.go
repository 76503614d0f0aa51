// SPDX-License-Identifier: Apache-2.0

package github

import (
	"context"
	"fmt"
	"io"
	"net/http"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/internal/engine"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream/internal/checks"
)

// validate checks idp. It returns an error only when reading a referenced object
// failed transiently, so that the reconcile is retried with the current state kept.
func (r *Reconciler) validate(ctx context.Context, idp *idpv1alpha1.GitHubIdentityProvider, current *checks.Current) (*checks.Validation, error) {
	v := checks.NewValidation()
	ep, hostOK := checkHost(v, idp)
	bundle, err := checks.CheckTLS(ctx, r.Client, v, idp.Namespace, "spec.githubAPI.tls", idp.Spec.GitHubAPI.TLS)
	if err != nil {
		return nil, err
	}
	checkPolicy(v, idp)
	checkClaims(v, idp)
	clientID, clientSecret, err := r.checkSecret(ctx, v, idp)
	if err != nil {
		return nil, err
	}
	const conn = idpv1alpha1.ConditionGitHubConnectionValid
	if !hostOK || bundle == nil {
		v.Unknown(conn)
		return v, nil
	}
	fp := fingerprint(idp, clientID, clientSecret, bundle.PEM())
	if v.OK && current.Matches(fp) {
		v.Add(conn, true, idpv1alpha1.ReasonSuccess, "reached the GitHub API at "+ep.api)
		return v, nil
	}
	httpClient := bundle.HTTPClient(r.HTTPTimeout)
	r.checkConnection(ctx, v, ep, httpClient)
	if !v.OK {
		return v, nil
	}
	p, err := New(Config{
		Namespace: idp.Namespace, Name: idp.Name, UID: string(idp.UID),
		Host: idp.Spec.GitHubAPI.Host, HTTPClient: httpClient, ClientID: clientID, ClientSecret: clientSecret,
		Claims: idp.Spec.Claims, Organizations: idp.Spec.AllowAuthentication.Organizations,
	})
	if err != nil {
		return nil, fmt.Errorf("build provider for GitHubIdentityProvider %s: %w", idp.Name, err)
	}
	v.Build(p, fp)
	return v, nil
}

// checkHost checks spec.githubAPI.host and returns its endpoints.
func checkHost(v *checks.Validation, idp *idpv1alpha1.GitHubIdentityProvider) (endpoints, bool) {
	ep, err := endpointsFor(idp.Spec.GitHubAPI.Host)
	if err != nil {
		v.Add(idpv1alpha1.ConditionHostValid, false, idpv1alpha1.ReasonInvalidHost, err.Error())
		return ep, false
	}
	v.Add(idpv1alpha1.ConditionHostValid, true, idpv1alpha1.ReasonSuccess, "spec.githubAPI.host is valid: the API base is "+ep.api)
	return ep, true
}

// checkPolicy checks spec.allowAuthentication.organizations.
func checkPolicy(v *checks.Validation, idp *idpv1alpha1.GitHubIdentityProvider) {
	const typ = idpv1alpha1.ConditionOrganizationsPolicyValid
	o := idp.Spec.AllowAuthentication.Organizations
	if _, err := policyOf(o); err != nil {
		v.Add(typ, false, idpv1alpha1.ReasonInvalid, err.Error())
		return
	}
	policy := o.Policy
	if policy == "" {
		policy = idpv1alpha1.GitHubAllowedAuthOrganizationsPolicyOnlyUsersFromAllowedOrganizations
	}
	v.Add(typ, true, idpv1alpha1.ReasonSuccess, fmt.Sprintf("spec.allowAuthentication.organizations.policy (%s) is valid", policy))
}

// checkClaims checks spec.claims.
func checkClaims(v *checks.Validation, idp *idpv1alpha1.GitHubIdentityProvider) {
	if _, _, err := claimsOf(idp.Spec.Claims); err != nil {
		v.Add(idpv1alpha1.ConditionClaimsValid, false, idpv1alpha1.ReasonInvalid, err.Error())
		return
	}
	v.Add(idpv1alpha1.ConditionClaimsValid, true, idpv1alpha1.ReasonSuccess, "spec.claims are valid")
}

// checkConnection checks that the API base answers over TLS with the configured
// trust. Any HTTP answer short of a server error will do: the API root needs no
// authentication on github.com, but may on a private GitHub Enterprise Server.
func (r *Reconciler) checkConnection(ctx context.Context, v *checks.Validation, ep endpoints, httpClient *http.Client) {
	const typ = idpv1alpha1.ConditionGitHubConnectionValid
	ctx, cancel := context.WithTimeout(ctx, r.HTTPTimeout)
	defer cancel()
	err := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep.api, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "application/vnd.github+json")
		resp, err := httpClient.Do(req)
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
		if resp.StatusCode >= http.StatusInternalServerError {
			return fmt.Errorf("GET %s responded %s", ep.api, resp.Status)
		}
		return nil
	}()
	if err != nil {
		// GitHub may come back without any change here.
		v.Retry = true
		v.Add(typ, false, idpv1alpha1.ReasonUnableToDialServer, fmt.Sprintf("cannot reach the GitHub API at %s: %v", ep.api, err))
		return
	}
	v.Add(typ, true, idpv1alpha1.ReasonSuccess, "reached the GitHub API at "+ep.api)
}

// checkSecret checks spec.client.secretName and returns the client credentials.
func (r *Reconciler) checkSecret(ctx context.Context, v *checks.Validation, idp *idpv1alpha1.GitHubIdentityProvider) (string, string, error) {
	return checks.CheckSecret(ctx, r.Client, v, idp.Namespace, idp.Spec.Client.SecretName, checks.SecretCheck{
		Condition: idpv1alpha1.ConditionClientCredentialsSecretValid,
		Purpose:   "client",
		Types:     []string{idpv1alpha1.SecretTypeGitHubClient, idpv1alpha1.SecretTypeGitHubClientPinniped},
		Keys:      [2]string{idpv1alpha1.SecretKeyClientID, idpv1alpha1.SecretKeyClientSecret},
		Loaded:    "loaded client credentials",
	})
}

// fingerprint identifies the configuration a provider is built from, so that an
// unchanged resource keeps its provider without another connection check: a
// flaky network must not evict a working provider. It is a hash and reveals no secret.
func fingerprint(idp *idpv1alpha1.GitHubIdentityProvider, clientID, clientSecret string, caPEM []byte) string {
	return engine.Fingerprint(struct {
		UID          string
		Spec         idpv1alpha1.GitHubIdentityProviderSpec
		ClientID     string
		ClientSecret string
		CA           []byte
	}{string(idp.UID), idp.Spec, clientID, clientSecret, caPEM})
}
