//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	supervisorclient "github.com/selkie-dev/selkie/generated/client/supervisor/clientset/versioned"
	sessionv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/session/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
)

// TestSupervisorSessionAPI logs two users in through Dex, finds the first login's
// session through the SupervisorSession API by username, deletes it and checks that
// its refresh token stops working while the other login keeps refreshing.
func TestSupervisorSessionAPI(t *testing.T) {
	s, api := startSupervisorWithAPI(t)
	ns := s.namespace
	s.dexDomain(t, true)
	revoked, kept := testEnv.Users[0], testEnv.Users[1]
	revokedTokens := s.passwordLogin(t, "/fd1", "dex", revoked.Email, revoked.Password)
	keptTokens := s.passwordLogin(t, "/fd1", "dex", kept.Email, kept.Password)
	revokedID, keptID := sessionIDOf(t, revokedTokens.RefreshToken), sessionIDOf(t, keptTokens.RefreshToken)

	ctx := testContext(t)
	sessions := api.client.SessionV1alpha1().SupervisorSessions(ns)
	list, err := sessions.List(ctx, metav1.ListOptions{FieldSelector: sessionv1alpha1.FieldSelectorUsername + "=" + revoked.Email})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != revokedID {
		t.Fatalf("sessions of %s: %+v, want only %s", revoked.Email, list.Items, revokedID)
	}
	got := list.Items[0]
	wantIdP := sessionv1alpha1.SupervisorSessionIdentityProvider{DisplayName: "dex", Type: "oidc", Kind: "OIDCIdentityProvider", Name: "dex"}
	if got.Namespace != ns || got.ResourceVersion == "" || got.Status.Issuer != s.issuer("/fd1") || got.Status.ClientID != oidcprovider.CLIClientID ||
		got.Status.Username != revoked.Email || got.Status.IdentityProvider != wantIdP || !slices.Contains(got.Status.GrantedScopes, "offline_access") ||
		!got.CreationTimestamp.Equal(&got.Status.AuthTime) || !got.Status.Expires.After(time.Now()) {
		t.Errorf("session %+v", got)
	}
	if byIssuer, err := sessions.List(ctx, metav1.ListOptions{FieldSelector: sessionv1alpha1.FieldSelectorIssuer + "=" + s.issuer("/fd1")}); err != nil ||
		len(byIssuer.Items) != 2 {
		t.Errorf("sessions of the issuer: %v, %v; want both logins", byIssuer, err)
	}
	if _, err := sessions.List(ctx, metav1.ListOptions{FieldSelector: "status.clientID=pinniped-cli"}); !apierrors.IsBadRequest(err) {
		t.Errorf("an unsupported field selector: %v, want 400", err)
	}
	if _, err := sessions.List(ctx, metav1.ListOptions{LabelSelector: "a=b"}); !apierrors.IsBadRequest(err) {
		t.Errorf("a label selector: %v, want 400", err)
	}
	anonymous := supervisorclient.NewForConfigOrDie(rest.AnonymousClientConfig(adminConfig(t, testEnv.Management().Kubeconfig)))
	if _, err := anonymous.SessionV1alpha1().SupervisorSessions(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) && !apierrors.IsUnauthorized(err) {
		t.Errorf("anonymous list: %v, want 403 or 401", err)
	}

	// kubectl finds the resource by its short name and prints the server's table.
	table := mustKubectl(t, "get", "ssession", "-n", ns, "--field-selector", "status.username="+revoked.Email)
	if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) != 2 ||
		strings.Join(strings.Fields(lines[0]), " ") != "NAME USERNAME IDP CLIENT AGE EXPIRES" ||
		!strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), revokedID+" "+revoked.Email+" dex pinniped-cli ") {
		t.Errorf("kubectl get ssession:\n%s", table)
	}

	if err := sessions.Delete(ctx, revokedID, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete session %s: %v", revokedID, err)
	}
	if _, err := sessions.Get(ctx, revokedID, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get the deleted session: %v, want 404", err)
	}
	if err := sessions.Delete(ctx, revokedID, metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("delete the deleted session again: %v, want 404", err)
	}
	refresh := func(tokens *tokenSet) (*tokenSet, int, string) {
		return s.tokenRequest(t, "/fd1", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken},
			"client_id": {oidcprovider.CLIClientID}})
	}
	if _, status, body := refresh(revokedTokens); status != http.StatusBadRequest || !strings.Contains(body, `"invalid_grant"`) {
		t.Errorf("refresh of the deleted session: %d %s, want 400 invalid_grant", status, body)
	}
	if refreshed, status, body := refresh(keptTokens); status != http.StatusOK || refreshed.IDToken == "" {
		t.Errorf("refresh of the other session: %d %s", status, body)
	}
	if remaining, err := sessions.Get(ctx, keptID, metav1.GetOptions{}); err != nil || remaining.Status.Username != kept.Email {
		t.Errorf("the other session: %+v, %v", remaining, err)
	}
	checkSessionAuditLine(t, s.logFile, revokedID, revoked.Email)
}

// sessionIDOf is the session ID in an opaque token (sel_rt_<session ID>.<secret>).
func sessionIDOf(t *testing.T, token string) string {
	t.Helper()
	_, after, ok := strings.Cut(token, "_rt_")
	id, _, ok2 := strings.Cut(after, ".")
	if !ok || !ok2 || len(id) != 26 {
		t.Fatalf("no session ID in refresh token %.12s…", token)
	}
	return id
}

// checkSessionAuditLine finds the delete's audit line in the supervisor's log: it names
// the session, the caller and the audit ID, and not the session's username (the
// supervisor runs without --log-user-info).
func checkSessionAuditLine(t *testing.T, logFile, id, username string) {
	t.Helper()
	f, err := os.Open(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil || line["msg"] != "supervisor session deleted" || line["session"] != id {
			continue
		}
		caller, _ := line["caller"].(string)
		auditID, _ := line["auditID"].(string)
		if line["audit"] != true || caller == "" || auditID == "" || strings.Contains(sc.Text(), username) {
			t.Errorf("audit line %s", sc.Text())
		}
		return
	}
	t.Errorf("no audit line for the deletion of session %s in %s", id, logFile)
}
