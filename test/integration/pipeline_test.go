//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conciergeclient "github.com/selkie-dev/selkie/generated/client/concierge/clientset/versioned"
	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
)

// jobToken returns a CI job's ID token shaped like those GitHub Actions issues, for a
// deployment of seals/deploy's main branch to production, with changes (nil removes a
// claim).
func (is *tokenIssuer) jobToken(t *testing.T, audience string, changes map[string]any) string {
	t.Helper()
	now := time.Now()
	claims := map[string]any{
		"iss": is.url, "aud": audience, "sub": "repo:seals/deploy:environment:production",
		"repository": "seals/deploy", "repository_owner": "seals", "repository_id": "74", "ref": "refs/heads/main", "ref_type": "branch",
		"environment": "production", "workflow": "deploy", "event_name": "push", "actor": "pinny", "run_id": "1234567",
		"job_workflow_ref": "seals/deploy/.github/workflows/deploy.yml@refs/heads/main",
		"iat":              now.Add(-time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	}
	maps.Copy(claims, changes)
	for k, v := range claims {
		if v == nil {
			delete(claims, k)
		}
	}
	return is.sign(t, claims)
}

// TestPipelineLogin is a CI job reaching a cluster with its own OIDC ID token and no
// secret: a JWTAuthenticator trusts the CI system's issuer (a local one shaped like
// GitHub Actions') with claim rules that pin one repository and its main branch and CEL
// mappings that name the user after the repository; `selkie get kubeconfig
// --static-token-file` writes the job's kubeconfig, and kubectl then works as RBAC says.
// Tokens of another branch or repository, expired ones and ones for another audience
// get the generic failure, and the concierge's audit line names the rule.
func TestPipelineLogin(t *testing.T) {
	c := sharedConcierge(t)
	cl := testEnv.Clusters[c.cluster]
	ctx := testContext(t)
	is := startTokenIssuer(t)
	audience := fmt.Sprintf("pipelines-%d", time.Now().UnixNano())
	client := conciergeclient.NewForConfigOrDie(adminConfig(t, cl.Kubeconfig)).AuthenticationV1alpha1().JWTAuthenticators()
	ja, err := client.Create(ctx, &authenticationv1alpha1.JWTAuthenticator{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "github-actions-"},
		Spec: authenticationv1alpha1.JWTAuthenticatorSpec{
			Issuer: is.url, Audience: audience,
			TLS: &authenticationv1alpha1.TLSSpec{CertificateAuthorityData: base64.StdEncoding.EncodeToString(is.caPEM)},
			ClaimValidationRules: []authenticationv1alpha1.ClaimValidationRule{
				{Claim: "repository", RequiredValue: "seals/deploy"},
				{Expression: `claims.ref == "refs/heads/main" && claims.ref_type == "branch"`, Message: "only the main branch deploys"},
			},
			Claims: authenticationv1alpha1.JWTTokenClaims{
				UsernameExpression: `"ci:" + claims.repository + ":" + claims.environment`,
				GroupsExpression:   `["pipelines", "pipelines:" + claims.repository_owner]`,
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Delete(context.Background(), ja.Name, metav1.DeleteOptions{}) })
	waitJWTAuthenticatorReady(t, client, ja.Name)
	grantNamespaceReader(t, c.cluster, "pipelines:seals")

	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "id-token")
	writeToken := func(token string) {
		t.Helper()
		if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	_, errOut, err := runWithEnv(t, nil, cliBinary(t), "get", "kubeconfig", "--kubeconfig", cl.Kubeconfig,
		"--concierge-api-group-suffix", "selkie.dev", "--concierge-credential-issuer", "selkie-concierge-config",
		"--concierge-authenticator-type", "jwt", "--concierge-authenticator-name", ja.Name,
		"--static-token-file", tokenFile, "--credential-cache", "", "-o", kubeconfig)
	if err != nil {
		t.Fatalf("get kubeconfig: %v\n%s", err, errOut)
	}
	assertNoSecrets(t, kubeconfig)

	writeToken(is.jobToken(t, audience, nil))
	out, errOut, err := runWithEnv(t, nil, testEnv.Kubectl, "--kubeconfig", kubeconfig, "get", "namespaces", "-o", "name")
	if err != nil || !strings.Contains(out, "namespace/kube-system") {
		t.Fatalf("kubectl get namespaces as the main branch's job: %v\n%s\n%s", err, out, errOut)
	}
	out, errOut, err = runWithEnv(t, nil, cliBinary(t), "whoami", "--kubeconfig", kubeconfig, "--api-group-suffix", "selkie.dev")
	if err != nil || !strings.Contains(out, "Username: ci:seals/deploy:production") || !strings.Contains(out, "Groups: pipelines, pipelines:seals") {
		t.Errorf("whoami: %v\n%s\n%s", err, out, errOut)
	}
	if _, errOut, err := runWithEnv(t, nil, testEnv.Kubectl, "--kubeconfig", kubeconfig, "get", "secrets", "-n", "kube-system"); err == nil ||
		!strings.Contains(errOut, `User "ci:seals/deploy:production" cannot list resource "secrets"`) {
		t.Errorf("kubectl get secrets: %v\n%s; want RBAC's refusal", err, errOut)
	}

	// A feature branch's job with the same kubeconfig gets nothing.
	writeToken(is.jobToken(t, audience, map[string]any{"ref": "refs/heads/feature"}))
	if _, errOut, err := runWithEnv(t, nil, testEnv.Kubectl, "--kubeconfig", kubeconfig, "get", "namespaces"); err == nil {
		t.Errorf("kubectl as a feature branch's job succeeded\n%s", errOut)
	}

	hourAgo := time.Now().Add(-time.Hour).Unix()
	for _, tc := range []struct {
		name, token, wantReason string
	}{
		{"another branch", is.jobToken(t, audience, map[string]any{"ref": "refs/heads/fix", "job_workflow_ref": "seals/deploy/.github/workflows/deploy.yml@refs/heads/fix"}),
			`validation expression 'claims.ref == "refs/heads/main" && claims.ref_type == "branch"' failed: only the main branch deploys`},
		{"a tag", is.jobToken(t, audience, map[string]any{"ref": "refs/heads/main", "ref_type": "tag"}), "only the main branch deploys"},
		{"another repository", is.jobToken(t, audience, map[string]any{"repository": "walruses/deploy"}), "required claim repository value does not match"},
		// Kubernetes maps the username before it checks the rules: the mapping fails first.
		{"no repository", is.jobToken(t, audience, map[string]any{"repository": nil}), "username claim expression"},
		{"expired", is.jobToken(t, audience, map[string]any{"iat": hourAgo - 60, "nbf": hourAgo - 60, "exp": hourAgo}), "expired"},
		{"another audience", is.jobToken(t, "another-cluster", nil), "expected audience"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := tokenCredentialRequest(t, c.cluster, tc.token, ja.Name)
			if resp.Status.Credential != nil || deref(resp.Status.Message) != "authentication failed" {
				t.Errorf("want only the generic failure, got %+v", resp.Status)
			}
			if reason := c.auditReason(t, tc.token, "JWTAuthenticator", ja.Name); !strings.Contains(reason, tc.wantReason) {
				t.Errorf("audit reason %q, want it to contain %q", reason, tc.wantReason)
			}
		})
	}
}

// TestClaimRulesBadInput creates JWTAuthenticators whose CEL does not compile, costs too
// much or returns the wrong type: each is reported in its ClaimRulesValid condition,
// never becomes Ready, and the concierge keeps serving logins.
func TestClaimRulesBadInput(t *testing.T) {
	c := sharedConcierge(t)
	cl := testEnv.Clusters[c.cluster]
	ctx := testContext(t)
	is := startTokenIssuer(t)
	client := conciergeclient.NewForConfigOrDie(adminConfig(t, cl.Kubeconfig)).AuthenticationV1alpha1().JWTAuthenticators()
	create := func(edit func(*authenticationv1alpha1.JWTAuthenticatorSpec)) string {
		t.Helper()
		spec := authenticationv1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: "test-cluster",
			TLS: &authenticationv1alpha1.TLSSpec{CertificateAuthorityData: base64.StdEncoding.EncodeToString(is.caPEM)}}
		edit(&spec)
		ja, err := client.Create(ctx, &authenticationv1alpha1.JWTAuthenticator{ObjectMeta: metav1.ObjectMeta{GenerateName: "bad-rules-"}, Spec: spec}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = client.Delete(context.Background(), ja.Name, metav1.DeleteOptions{}) })
		return ja.Name
	}
	for _, tc := range []struct {
		name, want string
		edit       func(*authenticationv1alpha1.JWTAuthenticatorSpec)
	}{
		{"does not compile", "spec.claimValidationRules[0].expression: Invalid value", func(s *authenticationv1alpha1.JWTAuthenticatorSpec) {
			s.ClaimValidationRules = []authenticationv1alpha1.ClaimValidationRule{{Expression: `claims.ref ==`, Message: "broken"}}
		}},
		{"exceeds the cost limit", "estimated cost", func(s *authenticationv1alpha1.JWTAuthenticatorSpec) {
			s.ClaimValidationRules = []authenticationv1alpha1.ClaimValidationRule{{
				Expression: `dyn(claims.groups).all(a, dyn(claims.groups).all(b, dyn(claims.groups).all(c, a + b + c != "")))`}}
		}},
		{"returns the wrong type", "spec.claims.usernameExpression: returns list(string), must return string", func(s *authenticationv1alpha1.JWTAuthenticatorSpec) {
			s.Claims.UsernameExpression = `["a", "b"]`
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := create(tc.edit)
			eventually(t, 30*time.Second, "ClaimRulesValid False on "+name, func() (bool, error) {
				got, err := client.Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				for _, cond := range got.Status.Conditions {
					if cond.Type == authenticationv1alpha1.ConditionClaimRulesValid && cond.Status == metav1.ConditionFalse &&
						cond.Reason == authenticationv1alpha1.ReasonInvalidClaimRules && strings.Contains(cond.Message, tc.want) &&
						got.Status.Phase == authenticationv1alpha1.JWTAuthenticatorPhaseError {
						return true, nil
					}
				}
				return false, fmt.Errorf("phase %s, conditions %+v", got.Status.Phase, got.Status.Conditions)
			})
			token := is.token(t, "ivy", []string{"ivies"}, time.Now().Add(5*time.Minute))
			if resp := tokenCredentialRequest(t, c.cluster, token, name); resp.Status.Credential != nil {
				t.Error("an authenticator with invalid rules issued a credential")
			}
		})
	}
	// The concierge is alive and still logs users in.
	good := create(func(*authenticationv1alpha1.JWTAuthenticatorSpec) {})
	waitJWTAuthenticatorReady(t, client, good)
	token := is.token(t, "ivy", []string{"ivies"}, time.Now().Add(5*time.Minute))
	if resp := tokenCredentialRequest(t, c.cluster, token, good); resp.Status.Credential == nil {
		t.Fatalf("a valid token failed after the bad rules: %s", c.auditReason(t, token, "JWTAuthenticator", good))
	}
}
