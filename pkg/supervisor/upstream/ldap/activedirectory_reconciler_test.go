// SPDX-License-Identifier: Apache-2.0

package ldap_test

import (
	"context"
	"encoding/base64"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/internal/fakeclient"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
	upstreamldap "github.com/selkie-dev/selkie/pkg/supervisor/upstream/ldap"
)

func adKey() upstream.Key { return upstream.Key{Kind: upstream.KindActiveDirectory, Name: "my-ad"} }

func testADIDP(caPEM []byte, edit func(*idpv1alpha1.ActiveDirectoryIdentityProvider)) *idpv1alpha1.ActiveDirectoryIdentityProvider {
	idp := &idpv1alpha1.ActiveDirectoryIdentityProvider{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "my-ad", UID: "uid-ad", Generation: 3},
		Spec: idpv1alpha1.ActiveDirectoryIdentityProviderSpec{
			Host: "dc1.corp.example.com",
			TLS:  &idpv1alpha1.TLSSpec{CertificateAuthorityData: base64.StdEncoding.EncodeToString(caPEM)},
			Bind: idpv1alpha1.ActiveDirectoryIdentityProviderBind{SecretName: "bind"},
		},
	}
	if edit != nil {
		edit(idp)
	}
	return idp
}

func adBindSecret() *corev1.Secret {
	return bindSecret(corev1.SecretTypeBasicAuth, map[string][]byte{"username": []byte(adBindDN), "password": []byte(bindPW)})
}

type adTestEnv struct {
	client   client.Client
	registry *upstream.Registry
	dir      *fakeDir
	r        *upstreamldap.ActiveDirectoryReconciler
}

func newADEnv(t *testing.T, objs ...client.Object) *adTestEnv {
	t.Helper()
	e := &adTestEnv{registry: upstream.NewRegistry(), dir: newADDir()}
	e.client = fakeclient.New(t, fakeclient.Options{Suffix: "pinniped.dev",
		Status: []client.Object{&idpv1alpha1.ActiveDirectoryIdentityProvider{}}}, objs...)
	e.r = upstreamldap.NewActiveDirectoryReconciler(upstreamldap.ReconcilerConfig{ControllerConfig: upstream.ControllerConfig{Client: e.client, Registry: e.registry, Namespace: ns, Log: slog.New(slog.DiscardHandler)}, Timeout: 5 * time.Second, Dial: e.dir.dial})
	return e
}

func (e *adTestEnv) reconcile(t *testing.T) (ctrl.Result, *idpv1alpha1.ActiveDirectoryIdentityProvider) {
	t.Helper()
	key := client.ObjectKey{Namespace: ns, Name: "my-ad"}
	res, err := e.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: key})
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	idp := &idpv1alpha1.ActiveDirectoryIdentityProvider{}
	if err := e.client.Get(context.Background(), key, idp); err != nil {
		t.Fatal(err)
	}
	return res, idp
}

func TestActiveDirectoryReconcile(t *testing.T) {
	t.Parallel()
	ca := testCA(t)
	specBases := func(idp *idpv1alpha1.ActiveDirectoryIdentityProvider) {
		idp.Spec.UserSearch.Base = "OU=Users," + adBase
		idp.Spec.GroupSearch.Base = "OU=Groups," + adBase
	}
	tests := []struct {
		name       string
		edit       func(*idpv1alpha1.ActiveDirectoryIdentityProvider)
		noRootDSE  bool
		noSecret   bool
		want       map[string]string
		wantPhase  idpv1alpha1.ActiveDirectoryIdentityProviderPhase
		wantRetry  bool
		wantGroups []string
	}{
		{name: "bases from the spec", edit: specBases, noRootDSE: true,
			want:       map[string]string{idpv1alpha1.ConditionSearchBaseFound: "True UsingConfigurationFromSpec"},
			wantPhase:  idpv1alpha1.ActiveDirectoryPhaseReady,
			wantGroups: []string{"marine-mammals@corp.example.com", "seals@corp.example.com"}},
		{name: "bases from the root DSE",
			want:       map[string]string{idpv1alpha1.ConditionSearchBaseFound: ok},
			wantPhase:  idpv1alpha1.ActiveDirectoryPhaseReady,
			wantGroups: []string{"marine-mammals@corp.example.com", "ops@emea.corp.example.com", "seals@corp.example.com"}},
		{name: "only the user base in the spec",
			edit: func(idp *idpv1alpha1.ActiveDirectoryIdentityProvider) {
				idp.Spec.UserSearch.Base = "OU=Users," + adBase
			},
			want:       map[string]string{idpv1alpha1.ConditionSearchBaseFound: ok},
			wantPhase:  idpv1alpha1.ActiveDirectoryPhaseReady,
			wantGroups: []string{"marine-mammals@corp.example.com", "ops@emea.corp.example.com", "seals@corp.example.com"}},
		{name: "root DSE without defaultNamingContext", noRootDSE: true,
			want:      map[string]string{idpv1alpha1.ConditionSearchBaseFound: "False ErrorFetchingSearchBase"},
			wantPhase: idpv1alpha1.ActiveDirectoryPhaseError, wantRetry: true},
		{name: "bind Secret missing", noSecret: true,
			want: map[string]string{idpv1alpha1.ConditionBindSecretValid: "False SecretNotFound",
				idpv1alpha1.ConditionLDAPConnectionValid: "Unknown UnableToValidate", idpv1alpha1.ConditionSearchBaseFound: "Unknown UnableToValidate"},
			wantPhase: idpv1alpha1.ActiveDirectoryPhaseError},
		{name: "invalid filter",
			edit: func(idp *idpv1alpha1.ActiveDirectoryIdentityProvider) {
				idp.Spec.UserSearch.Filter = "(&(sAMAccountName={})"
			},
			want: map[string]string{idpv1alpha1.ConditionLDAPConnectionValid: "False InvalidSearchConfiguration",
				idpv1alpha1.ConditionSearchBaseFound: "Unknown UnableToValidate"},
			wantPhase: idpv1alpha1.ActiveDirectoryPhaseError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			objs := []client.Object{testADIDP(ca, tc.edit)}
			if !tc.noSecret {
				objs = append(objs, adBindSecret())
			}
			e := newADEnv(t, objs...)
			if tc.noRootDSE {
				e.dir.remove("")
			}
			res, idp := e.reconcile(t)
			want := map[string]string{idpv1alpha1.ConditionBindSecretValid: ok, idpv1alpha1.ConditionTLSConfigurationValid: ok,
				idpv1alpha1.ConditionLDAPConnectionValid: ok}
			for k, v := range tc.want {
				want[k] = v
			}
			got := map[string]string{}
			for _, c := range idp.Status.Conditions {
				got[c.Type] = string(c.Status) + " " + c.Reason
				if c.ObservedGeneration != idp.Generation || c.Message == "" {
					t.Errorf("condition %s: observedGeneration %d, message %q", c.Type, c.ObservedGeneration, c.Message)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" || idp.Status.Phase != tc.wantPhase || (res.RequeueAfter > 0) != tc.wantRetry {
				t.Fatalf("phase %s, requeue %v, conditions (-want +got):\n%s", idp.Status.Phase, res.RequeueAfter, diff)
			}
			p, stored := e.registry.Get(adKey())
			if _, ldapStored := e.registry.Get(upstream.Key{Kind: upstream.KindLDAP, Name: "my-ad"}); ldapStored {
				t.Error("stored under the LDAP kind")
			}
			if stored != (tc.wantPhase == idpv1alpha1.ActiveDirectoryPhaseReady) {
				t.Fatalf("stored in the registry: %v", stored)
			}
			if !stored {
				return
			}
			if p.Type() != upstream.TypeActiveDirectory {
				t.Errorf("Type = %q", p.Type())
			}
			id, err := p.(upstream.PasswordIdentityProvider).Login(context.Background(), "pinny", "pinny-pw")
			if err != nil || id.Subject != adPinnyGUID || cmp.Diff(tc.wantGroups, id.Groups) != "" {
				t.Errorf("Login = %+v, %v; want groups %v", id, err, tc.wantGroups)
			}

			// An unchanged resource keeps its provider without dialing again, and the
			// conditions do not change.
			dials := len(e.dir.dials)
			_, again := e.reconcile(t)
			if p2, _ := e.registry.Get(adKey()); p2 != p || len(e.dir.dials) != dials ||
				!cmp.Equal(idp.Status, again.Status) {
				t.Errorf("second reconcile: provider replaced %v, dials %d→%d, status %+v", p2 != p, dials, len(e.dir.dials), again.Status)
			}
		})
	}
}

func TestActiveDirectoryRequestsFor(t *testing.T) {
	t.Parallel()
	e := newADEnv(t, testADIDP(testCA(t), nil))
	reqs := e.r.RequestsFor(context.Background(), adBindSecret())
	if len(reqs) != 1 || reqs[0].Name != "my-ad" {
		t.Errorf("RequestsFor(bind Secret) = %v", reqs)
	}
	other := adBindSecret()
	other.Name = "other"
	if reqs := e.r.RequestsFor(context.Background(), other); len(reqs) != 0 {
		t.Errorf("RequestsFor(other Secret) = %v", reqs)
	}
}
