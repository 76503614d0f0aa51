// SPDX-License-Identifier: Apache-2.0

package github

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator/tlsconfig"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// validation is the outcome of checking one GitHubIdentityProvider.
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

func (v *validation) unknown(typ string) {
	v.ok = false
	v.conditions = append(v.conditions, metav1.Condition{Type: typ, Status: metav1.ConditionUnknown,
		Reason: idpv1alpha1.ReasonUnableToValidate, Message: idpv1alpha1.MessageUnableToValidate})
}

// validate checks idp. It returns an error only when reading a referenced object
// failed transiently, so that the reconcile is retried with the current state kept.
func (r *Reconciler) validate(ctx context.Context, idp *idpv1alpha1.GitHubIdentityProvider) (*validation, error) {
	v := &validation{ok: true}
	ep, hostOK := checkHost(v, idp)
	bundle, err := r.checkTLS(ctx, v, idp)
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
		v.unknown(conn)
		return v, nil
	}
	fp := fingerprint(idp, clientID, clientSecret, bundle.PEM())
	if v.ok && fp != "" && r.current(idp.Name) == fp {
		v.add(conn, true, idpv1alpha1.ReasonSuccess, "reached the GitHub API at "+ep.api)
		return v, nil
	}
	httpClient := bundle.HTTPClient(r.HTTPTimeout)
	r.checkConnection(ctx, v, ep, httpClient)
	if !v.ok {
		return v, nil
	}
	v.provider, err = New(Config{
		Namespace: idp.Namespace, Name: idp.Name, UID: string(idp.UID),
		Host: idp.Spec.GitHubAPI.Host, HTTPClient: httpClient, ClientID: clientID, ClientSecret: clientSecret,
		Claims: idp.Spec.Claims, Organizations: idp.Spec.AllowAuthentication.Organizations,
		fingerprint: fp,
	})
	if err != nil {
		return nil, fmt.Errorf("build provider for GitHubIdentityProvider %s: %w", idp.Name, err)
	}
	return v, nil
}

// checkHost checks spec.githubAPI.host and returns its endpoints.
func checkHost(v *validation, idp *idpv1alpha1.GitHubIdentityProvider) (endpoints, bool) {
	ep, err := endpointsFor(idp.Spec.GitHubAPI.Host)
	if err != nil {
		v.add(idpv1alpha1.ConditionHostValid, false, idpv1alpha1.ReasonInvalidHost, err.Error())
		return ep, false
	}
	v.add(idpv1alpha1.ConditionHostValid, true, idpv1alpha1.ReasonSuccess, "spec.githubAPI.host is valid: the API base is "+ep.api)
	return ep, true
}

// checkPolicy checks spec.allowAuthentication.organizations.
func checkPolicy(v *validation, idp *idpv1alpha1.GitHubIdentityProvider) {
	const typ = idpv1alpha1.ConditionOrganizationsPolicyValid
	o := idp.Spec.AllowAuthentication.Organizations
	if _, err := policyOf(o); err != nil {
		v.add(typ, false, idpv1alpha1.ReasonInvalid, err.Error())
		return
	}
	policy := o.Policy
	if policy == "" {
		policy = idpv1alpha1.GitHubAllowedAuthOrganizationsPolicyOnlyUsersFromAllowedOrganizations
	}
	v.add(typ, true, idpv1alpha1.ReasonSuccess, fmt.Sprintf("spec.allowAuthentication.organizations.policy (%s) is valid", policy))
}

// checkClaims checks spec.claims.
func checkClaims(v *validation, idp *idpv1alpha1.GitHubIdentityProvider) {
	if _, _, err := claimsOf(idp.Spec.Claims); err != nil {
		v.add(idpv1alpha1.ConditionClaimsValid, false, idpv1alpha1.ReasonInvalid, err.Error())
		return
	}
	v.add(idpv1alpha1.ConditionClaimsValid, true, idpv1alpha1.ReasonSuccess, "spec.claims are valid")
}

// checkConnection checks that the API base answers over TLS with the configured
// trust. Any HTTP answer short of a server error will do: the API root needs no
// authentication on github.com, but may on a private GitHub Enterprise Server.
func (r *Reconciler) checkConnection(ctx context.Context, v *validation, ep endpoints, httpClient *http.Client) {
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
		v.retry = true
		v.add(typ, false, idpv1alpha1.ReasonUnableToDialServer, fmt.Sprintf("cannot reach the GitHub API at %s: %v", ep.api, err))
		return
	}
	v.add(typ, true, idpv1alpha1.ReasonSuccess, "reached the GitHub API at "+ep.api)
}

// checkSecret checks spec.client.secretName and returns the client credentials.
func (r *Reconciler) checkSecret(ctx context.Context, v *validation, idp *idpv1alpha1.GitHubIdentityProvider) (string, string, error) {
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
	if !idpv1alpha1.IsGitHubClientSecretType(string(secret.Type)) {
		v.add(typ, false, idpv1alpha1.ReasonSecretWrongType, fmt.Sprintf("referenced Secret %q has wrong type %q (should be %q or %q)",
			name, secret.Type, idpv1alpha1.SecretTypeGitHubClient, idpv1alpha1.SecretTypeGitHubClientPinniped))
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

// checkTLS loads spec.githubAPI.tls; it returns a nil bundle when the spec is invalid.
func (r *Reconciler) checkTLS(ctx context.Context, v *validation, idp *idpv1alpha1.GitHubIdentityProvider) (*tlsconfig.Bundle, error) {
	const typ = idpv1alpha1.ConditionTLSConfigurationValid
	bundle, err := tlsconfig.Load(ctx, r.Client, idp.Namespace, "spec.githubAPI.tls", tlsSpec(idp.Spec.GitHubAPI.TLS))
	switch {
	case tlsconfig.IsTransient(err):
		return nil, err
	case err != nil:
		v.add(typ, false, idpv1alpha1.ReasonInvalidTLSConfig, err.Error())
		return nil, nil
	case bundle.PEM() == nil:
		v.add(typ, true, idpv1alpha1.ReasonSuccess, "spec.githubAPI.tls is valid: using the system trust roots")
	default:
		v.add(typ, true, idpv1alpha1.ReasonSuccess, "spec.githubAPI.tls is valid: using the configured CA bundle")
	}
	return bundle, nil
}

// tlsSpec converts spec.githubAPI.tls to the kind-neutral form; nil means the system roots.
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
// unchanged resource keeps its provider without another connection check: a
// flaky network must not evict a working provider. It is a hash and reveals no secret.
func fingerprint(idp *idpv1alpha1.GitHubIdentityProvider, clientID, clientSecret string, caPEM []byte) string {
	b, err := json.Marshal(struct {
		UID          string
		Spec         idpv1alpha1.GitHubIdentityProviderSpec
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
