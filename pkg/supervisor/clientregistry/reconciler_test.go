// SPDX-License-Identifier: Apache-2.0

package clientregistry_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/clientregistry"
)

const (
	msgAlwaysAuthcode   = `"allowedGrantTypes" must always include "authorization_code"`
	msgAlwaysOpenID     = `"openid" must always be included in "allowedScopes"`
	msgNeedRefreshGrant = `"refresh_token" must be included in "allowedGrantTypes" when "offline_access" is included in "allowedScopes"`
	msgNeedExchange     = `"urn:ietf:params:oauth:grant-type:token-exchange" must be included in "allowedGrantTypes" when "pinniped:request-audience" is included in "allowedScopes"`
	msgNeedOffline      = `"offline_access" must be included in "allowedScopes" when "refresh_token" is included in "allowedGrantTypes"`
	msgNeedAudience     = `"pinniped:request-audience" must be included in "allowedScopes" when "urn:ietf:params:oauth:grant-type:token-exchange" is included in "allowedGrantTypes"`
	msgNeedUsername     = `"username" must be included in "allowedScopes" when "pinniped:request-audience" is included in "allowedScopes"`
	msgNeedGroups       = `"groups" must be included in "allowedScopes" when "pinniped:request-audience" is included in "allowedScopes"`
)

func cond(condType string, ok bool, reason, message string) metav1.Condition {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	return metav1.Condition{Type: condType, Status: status, Reason: reason, Message: message, ObservedGeneration: 3}
}

var (
	grantsValid = cond(configv1alpha1.ConditionAllowedGrantTypesValid, true, "Success", `"allowedGrantTypes" is valid`)
	scopesValid = cond(configv1alpha1.ConditionAllowedScopesValid, true, "Success", `"allowedScopes" is valid`)
	oneSecret   = cond(configv1alpha1.ConditionClientSecretExists, true, "Success", "1 client secret(s) found")
	noSecret    = cond(configv1alpha1.ConditionClientSecretExists, false, "NoClientSecretFound", "no client secret found")
)

func grantsInvalid(msg string) metav1.Condition {
	return cond(configv1alpha1.ConditionAllowedGrantTypesValid, false, "MissingRequiredValue", msg)
}

func scopesInvalid(msg string) metav1.Condition {
	return cond(configv1alpha1.ConditionAllowedScopesValid, false, "MissingRequiredValue", msg)
}

func TestReconcileConditions(t *testing.T) {
	t.Parallel()
	type (
		grants = []configv1alpha1.GrantType
		scopes = []configv1alpha1.Scope
	)
	const (
		authcode = configv1alpha1.GrantTypeAuthorizationCode
		refresh  = configv1alpha1.GrantTypeRefreshToken
		exchange = configv1alpha1.GrantTypeTokenExchange
		openid   = configv1alpha1.ScopeOpenID
		offline  = configv1alpha1.ScopeOfflineAccess
		audience = configv1alpha1.ScopeRequestAudience
		username = configv1alpha1.ScopeUsername
		groups   = configv1alpha1.ScopeGroups
	)
	tests := []struct {
		name      string
		grants    grants
		scopes    scopes
		hashes    []string
		otherUID  bool // the Secret belongs to an earlier client of the same name
		rawSecret string
		want      []metav1.Condition
		wantPhase configv1alpha1.OIDCClientPhase
		wantTotal int32
	}{
		{name: "everything allowed, one secret", hashes: []string{hash12},
			want: []metav1.Condition{grantsValid, scopesValid, oneSecret}, wantPhase: "Ready", wantTotal: 1},
		{name: "minimal client", grants: grants{authcode}, scopes: scopes{openid}, hashes: []string{hash12},
			want: []metav1.Condition{grantsValid, scopesValid, oneSecret}, wantPhase: "Ready", wantTotal: 1},
		{name: "no secret",
			want: []metav1.Condition{grantsValid, scopesValid, noSecret}, wantPhase: "Error"},
		{name: "secret of an earlier client of the same name", hashes: []string{hash12}, otherUID: true,
			want: []metav1.Condition{grantsValid, scopesValid, noSecret}, wantPhase: "Error"},
		{name: "cost below 12", hashes: []string{hash12, hash11, hash12},
			want: []metav1.Condition{grantsValid, scopesValid, cond(configv1alpha1.ConditionClientSecretExists, false, "InvalidClientSecretFound",
				"client secret 2 of 3 (newest first) is not a bcrypt hash of cost 12 or more")}, wantPhase: "Error", wantTotal: 3},
		{name: "not a bcrypt hash", hashes: []string{"plaintext"},
			want: []metav1.Condition{grantsValid, scopesValid, cond(configv1alpha1.ConditionClientSecretExists, false, "InvalidClientSecretFound",
				"client secret 1 of 1 (newest first) is not a bcrypt hash of cost 12 or more")}, wantPhase: "Error", wantTotal: 1},
		{name: "unreadable Secret", rawSecret: "{",
			want: []metav1.Condition{grantsValid, scopesValid, cond(configv1alpha1.ConditionClientSecretExists, false, "InvalidClientSecretFound",
				"the stored client secrets are unreadable: Secret "+clientregistry.SecretName(clientName)+": unexpected end of JSON input")}, wantPhase: "Error"},
		{name: "authorization_code and openid always", grants: grants{refresh}, scopes: scopes{offline}, hashes: []string{hash12},
			want: []metav1.Condition{grantsInvalid(msgAlwaysAuthcode), scopesInvalid(msgAlwaysOpenID), oneSecret}, wantPhase: "Error", wantTotal: 1},
		{name: "offline_access without refresh_token", grants: grants{authcode}, scopes: scopes{openid, offline}, hashes: []string{hash12},
			want: []metav1.Condition{grantsInvalid(msgNeedRefreshGrant), scopesValid, oneSecret}, wantPhase: "Error", wantTotal: 1},
		{name: "refresh_token without offline_access", grants: grants{authcode, refresh}, scopes: scopes{openid}, hashes: []string{hash12},
			want: []metav1.Condition{grantsValid, scopesInvalid(msgNeedOffline), oneSecret}, wantPhase: "Error", wantTotal: 1},
		{name: "request-audience without token exchange", grants: grants{authcode}, scopes: scopes{openid, audience, username, groups}, hashes: []string{hash12},
			want: []metav1.Condition{grantsInvalid(msgNeedExchange), scopesValid, oneSecret}, wantPhase: "Error", wantTotal: 1},
		{name: "token exchange without request-audience", grants: grants{authcode, exchange}, scopes: scopes{openid, username, groups}, hashes: []string{hash12},
			want: []metav1.Condition{grantsValid, scopesInvalid(msgNeedAudience), oneSecret}, wantPhase: "Error", wantTotal: 1},
		{name: "request-audience without username and groups", grants: grants{authcode, exchange}, scopes: scopes{openid, audience}, hashes: []string{hash12},
			want: []metav1.Condition{grantsValid, scopesInvalid(msgNeedUsername + "; " + msgNeedGroups), oneSecret}, wantPhase: "Error", wantTotal: 1},
		{name: "everything wrong", grants: grants{refresh, exchange}, scopes: scopes{audience, groups},
			want:      []metav1.Condition{grantsInvalid(msgAlwaysAuthcode), scopesInvalid(msgAlwaysOpenID + "; " + msgNeedOffline + "; " + msgNeedUsername), noSecret},
			wantPhase: "Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			oc := validClient("uid-1")
			if tt.grants != nil {
				oc.Spec.AllowedGrantTypes, oc.Spec.AllowedScopes = tt.grants, tt.scopes
			}
			f := newFixture(t, nil, oc)
			switch {
			case tt.rawSecret != "":
				if err := f.client.Create(context.Background(), &corev1.Secret{
					ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: clientregistry.SecretName(clientName),
						OwnerReferences: []metav1.OwnerReference{{APIVersion: apiVersion, Kind: "OIDCClient", Name: clientName, UID: "uid-1"}}},
					Type: clientregistry.SecretType, Data: map[string][]byte{"hashes": []byte(tt.rawSecret)}}); err != nil {
					t.Fatal(err)
				}
			case tt.hashes != nil && tt.otherUID:
				f.storeHashes(t, validClient("uid-0"), tt.hashes...)
			case tt.hashes != nil:
				f.storeHashes(t, oc, tt.hashes...)
			}
			got := f.reconcile(t)
			if diff := cmp.Diff(tt.want, got.Status.Conditions, cmpopts.IgnoreFields(metav1.Condition{}, "LastTransitionTime")); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			if got.Status.Phase != tt.wantPhase || got.Status.TotalClientSecrets != tt.wantTotal {
				t.Errorf("phase %q totalClientSecrets %d, want %q %d", got.Status.Phase, got.Status.TotalClientSecrets, tt.wantPhase, tt.wantTotal)
			}
		})
	}
}

// TestReconcileWritesOnlyChanges checks that an unchanged client is not written again
// and that a new secret changes only what it should.
func TestReconcileWritesOnlyChanges(t *testing.T) {
	t.Parallel()
	oc := validClient("uid-1")
	f := newFixture(t, nil, oc)
	first := f.reconcile(t)
	f.reconcile(t)
	if n := f.statusWrites.Load(); n != 1 {
		t.Fatalf("%d status writes for two reconciles of an unchanged client, want 1", n)
	}
	if first.Status.Phase != configv1alpha1.OIDCClientPhaseError {
		t.Fatalf("phase %q without a secret", first.Status.Phase)
	}
	f.storeHashes(t, oc, hash12)
	second := f.reconcile(t)
	if n := f.statusWrites.Load(); n != 2 {
		t.Errorf("%d status writes after a new secret, want 2", n)
	}
	if second.Status.Phase != configv1alpha1.OIDCClientPhaseReady || second.Status.TotalClientSecrets != 1 {
		t.Errorf("phase %q totalClientSecrets %d after a new secret", second.Status.Phase, second.Status.TotalClientSecrets)
	}
	before := first.Status.Conditions[0].LastTransitionTime
	if after := second.Status.Conditions[0].LastTransitionTime; !after.Equal(&before) {
		t.Errorf("AllowedGrantTypesValid moved from %v to %v without changing", before, after)
	}
}

func TestReconcileDeletedClient(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	r := &clientregistry.Reconciler{Client: f.client, Secrets: f.store, Namespace: ns, Log: slog.New(slog.DiscardHandler)}
	if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: clientName}}); err != nil {
		t.Errorf("Reconcile of a missing client: %v", err)
	}
}

// TestTotalClientSecretsSerialized checks that zero secrets are reported, not omitted.
func TestTotalClientSecretsSerialized(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, validClient("uid-1"))
	got := f.reconcile(t)
	raw, err := json.Marshal(got.Status)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"totalClientSecrets":0`) {
		t.Errorf("status %s has no totalClientSecrets of 0", raw)
	}
}

func (f *fixture) reconcile(t *testing.T) *configv1alpha1.OIDCClient {
	t.Helper()
	r := &clientregistry.Reconciler{Client: f.client, Secrets: f.store, Namespace: ns, Log: slog.New(slog.DiscardHandler)}
	key := client.ObjectKey{Namespace: ns, Name: clientName}
	if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: key}); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	var got configv1alpha1.OIDCClient
	if err := f.client.Get(context.Background(), key, &got); err != nil {
		t.Fatal(err)
	}
	return &got
}
