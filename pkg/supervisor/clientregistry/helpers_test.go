// SPDX-License-Identifier: Apache-2.0

package clientregistry_test

import (
	"context"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/internal/fakeclient"
	"github.com/selkie-dev/selkie/pkg/supervisor/clientregistry"
)

const (
	ns         = "selkie-supervisor"
	clientName = "client.oauth.pinniped.dev-my-app"
	// The reference suffix: nothing may depend on the default group.
	apiVersion = "config.supervisor.pinniped.dev/v1alpha1"
	// hash12 and hash11 are bcrypt hashes of "the-secret" of cost 12 and 11.
	hash12 = "$2a$12$OyRNVhEfSM/8FEp/X6s8nON.5NcxOv2aiW1sND7PJdPDw/KbXxO4."
	hash11 = "$2a$11$r9WZPm7ZAs7ZN5HvWefuR.WqC2sm2QXcFhICyLSvYLCibucNmoxda"
)

// fixture is a fake API server with a status subresource for OIDCClients, counting
// status writes.
type fixture struct {
	client       client.Client
	store        *clientregistry.SecretStore
	statusWrites atomic.Int32
}

func newFixture(t *testing.T, funcs *interceptor.Funcs, objs ...client.Object) *fixture {
	t.Helper()
	f := &fixture{}
	f.client = fakeclient.New(t, fakeclient.Options{Suffix: "pinniped.dev", Status: []client.Object{&configv1alpha1.OIDCClient{}},
		Intercept: funcs, StatusWrites: &f.statusWrites}, objs...)
	f.store = &clientregistry.SecretStore{Client: f.client, Namespace: ns, OIDCClientAPIVersion: apiVersion}
	return f
}

// validClient is an OIDCClient allowed everything, with the given UID.
func validClient(uid types.UID) *configv1alpha1.OIDCClient {
	return &configv1alpha1.OIDCClient{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: clientName, UID: uid, Generation: 3},
		Spec: configv1alpha1.OIDCClientSpec{
			AllowedRedirectURIs: []configv1alpha1.RedirectURI{"https://app.example.com/callback", "http://127.0.0.1/callback"},
			AllowedGrantTypes: []configv1alpha1.GrantType{configv1alpha1.GrantTypeAuthorizationCode,
				configv1alpha1.GrantTypeRefreshToken, configv1alpha1.GrantTypeTokenExchange},
			AllowedScopes: []configv1alpha1.Scope{configv1alpha1.ScopeOpenID, configv1alpha1.ScopeOfflineAccess,
				configv1alpha1.ScopeRequestAudience, configv1alpha1.ScopeUsername, configv1alpha1.ScopeGroups},
		},
	}
}

// storeHashes stores hashes for oc through the store under test.
func (f *fixture) storeHashes(t *testing.T, oc *configv1alpha1.OIDCClient, hashes ...string) {
	t.Helper()
	prev, err := f.store.Get(context.Background(), oc)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Set(context.Background(), oc, prev, hashes); err != nil {
		t.Fatal(err)
	}
}
