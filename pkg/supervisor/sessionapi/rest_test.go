// SPDX-License-Identifier: Apache-2.0

package sessionapi_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/audit"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	sessionapis "github.com/selkie-dev/selkie/pkg/apis/supervisor/session"
	"github.com/selkie-dev/selkie/pkg/supervisor/sessionapi"
	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
)

const (
	ns      = "selkie-supervisor"
	group   = "session.supervisor.pinniped.dev"
	issuer1 = "https://id.example.com/fd1"
	issuer2 = "https://id.example.com/fd2"
	// Session IDs: 26 characters of lower-case base32.
	idAlice1 = "aaaaaaaaaaaaaaaaaaaaaaaaa2"
	idAlice2 = "aaaaaaaaaaaaaaaaaaaaaaaaa3"
	idBob    = "bbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// authTime is when the fixture's first login happened.
var authTime = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	store   sessionstore.Store
	rest    *sessionapi.REST
	log     *bytes.Buffer
	revoked [][]byte
	// revokeErr is what Revoke returns.
	revokeErr error
}

// newFixture stores three sessions: alice at fd1 and fd2, bob at fd1.
func newFixture(t *testing.T, logUserInfo bool, wrap func(sessionstore.Store) sessionstore.Store) *fixture {
	t.Helper()
	f := &fixture{store: sessionstore.NewMemoryStore(), log: &bytes.Buffer{}}
	for i, s := range []*sessionstore.Session{
		newSession(idAlice1, issuer1, "alice@example.com", 0),
		newSession(idAlice2, issuer2, "alice@example.com", time.Minute),
		newSession(idBob, issuer1, "bob@example.com", 2*time.Minute),
	} {
		if err := f.store.Create(context.Background(), s); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
	}
	store := f.store
	if wrap != nil {
		store = wrap(store)
	}
	f.rest = sessionapi.NewREST(sessionapi.Config{Store: store, Namespace: ns, Group: group, LogUserInfo: logUserInfo,
		Log: slogJSON(f.log), Clock: func() time.Time { return authTime.Add(time.Hour) },
		Revoke: func(_ context.Context, s *sessionstore.Session) error {
			f.revoked = append(f.revoked, s.UpstreamData)
			return f.revokeErr
		}})
	return f
}

func newSession(id, iss, username string, after time.Duration) *sessionstore.Session {
	return &sessionstore.Session{ID: id, Issuer: iss, ClientID: "pinniped-cli", GrantedScopes: []string{"openid", "offline_access"},
		AuthTime: authTime.Add(after), Expires: authTime.Add(after + 9*time.Hour),
		IdP:     sessionstore.IdP{DisplayName: "dex", Type: "oidc", Kind: "OIDCIdentityProvider", Name: "dex-idp", UID: "uid-1"},
		Subject: iss + "?idpName=dex&sub=" + username, Username: username, Groups: []string{"devs"},
		UpstreamUsername: username, UpstreamSubject: "upstream-" + username, UpstreamData: []byte("upstream-tokens-of-" + id),
		RefreshToken: &sessionstore.Token{Hash: []byte("refresh-hash"), Expires: authTime.Add(9 * time.Hour)}}
}

// requestContext is a request in namespace by an administrator, with an audit ID.
func requestContext(namespace string) context.Context {
	ctx := genericapirequest.WithNamespace(context.Background(), namespace)
	ctx = genericapirequest.WithUser(ctx, &user.DefaultInfo{Name: "admin@example.com", Groups: []string{"system:masters"}})
	ctx = audit.WithAuditContext(ctx)
	audit.WithAuditID(ctx, types.UID("audit-id-1"))
	return ctx
}

func wantStatus(t *testing.T, err error, code int32, substr string) {
	t.Helper()
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Code != code {
		t.Fatalf("error %v, want a %d", err, code)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Errorf("error %q does not contain %q", err, substr)
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false, nil)
	obj, err := f.rest.Get(requestContext(ns), idAlice1, &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := f.store.Get(context.Background(), idAlice1)
	if err != nil {
		t.Fatal(err)
	}
	want := &sessionapis.SupervisorSession{
		ObjectMeta: metav1.ObjectMeta{Name: idAlice1, Namespace: ns, ResourceVersion: stored.ResourceVersion, CreationTimestamp: metav1.NewTime(authTime)},
		Status: sessionapis.SupervisorSessionStatus{Issuer: issuer1, ClientID: "pinniped-cli", Username: "alice@example.com",
			Groups: []string{"devs"}, Subject: issuer1 + "?idpName=dex&sub=alice@example.com",
			IdentityProvider: sessionapis.SupervisorSessionIdentityProvider{DisplayName: "dex", Type: "oidc", Kind: "OIDCIdentityProvider", Name: "dex-idp"},
			GrantedScopes:    []string{"openid", "offline_access"},
			AuthTime:         metav1.NewTime(authTime), Expires: metav1.NewTime(authTime.Add(9 * time.Hour))},
	}
	if diff := cmp.Diff(want, obj); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
	if want.ResourceVersion == "" {
		t.Error("no resourceVersion")
	}
}

func TestGetErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false, nil)
	_, err := f.rest.Get(requestContext(ns), "cccccccccccccccccccccccccc", &metav1.GetOptions{})
	wantStatus(t, err, http.StatusNotFound, `supervisorsessions.session.supervisor.pinniped.dev "cccccccccccccccccccccccccc" not found`)
	_, err = f.rest.Get(requestContext("default"), idAlice1, &metav1.GetOptions{})
	wantStatus(t, err, http.StatusBadRequest, "namespace must be selkie-supervisor on SupervisorSession, was default")
	_, err = f.rest.Get(requestContext(""), idAlice1, &metav1.GetOptions{})
	wantStatus(t, err, http.StatusBadRequest, "namespace must be selkie-supervisor")
}

func TestList(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false, nil)
	tests := []struct {
		name      string
		namespace string
		fields    string
		want      []string
	}{
		{name: "all, oldest first", namespace: ns, want: []string{idAlice1, idAlice2, idBob}},
		{name: "all namespaces", namespace: "", want: []string{idAlice1, idAlice2, idBob}},
		{name: "another namespace is empty", namespace: "default"},
		{name: "by username", namespace: ns, fields: "status.username=alice@example.com", want: []string{idAlice1, idAlice2}},
		{name: "by username with ==", namespace: ns, fields: "status.username==bob@example.com", want: []string{idBob}},
		{name: "by issuer", namespace: ns, fields: "status.issuer=" + issuer1, want: []string{idAlice1, idBob}},
		{name: "by both", namespace: ns, fields: "status.issuer=" + issuer2 + ",status.username=alice@example.com", want: []string{idAlice2}},
		{name: "the same value twice", namespace: ns, fields: "status.username=bob@example.com,status.username=bob@example.com", want: []string{idBob}},
		{name: "no match", namespace: ns, fields: "status.username=carol@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := &metainternalversion.ListOptions{}
			if tt.fields != "" {
				opts.FieldSelector = fields.ParseSelectorOrDie(tt.fields)
			}
			obj, err := f.rest.List(requestContext(tt.namespace), opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range obj.(*sessionapis.SupervisorSessionList).Items {
				got = append(got, s.Name)
				if s.Namespace != ns {
					t.Errorf("session %s in namespace %q", s.Name, s.Namespace)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("listed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListBadSelectors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false, nil)
	tests := []struct {
		name       string
		opts       *metainternalversion.ListOptions
		wantSubstr string
	}{
		{name: "label selector", opts: &metainternalversion.ListOptions{LabelSelector: labels.SelectorFromSet(labels.Set{"a": "b"})},
			wantSubstr: "label selectors are not supported on SupervisorSessions"},
		{name: "other field", opts: &metainternalversion.ListOptions{FieldSelector: fields.ParseSelectorOrDie("status.clientID=pinniped-cli")},
			wantSubstr: `field selector "status.clientID" is not supported on SupervisorSessions: use status.username or status.issuer`},
		{name: "metadata.name", opts: &metainternalversion.ListOptions{FieldSelector: fields.ParseSelectorOrDie("metadata.name=" + idBob)},
			wantSubstr: `field selector "metadata.name" is not supported`},
		{name: "not equals", opts: &metainternalversion.ListOptions{FieldSelector: fields.ParseSelectorOrDie("status.username!=bob@example.com")},
			wantSubstr: "field selector status.username supports only = and ==, not !="},
		{name: "empty value", opts: &metainternalversion.ListOptions{FieldSelector: fields.ParseSelectorOrDie("status.issuer=")},
			wantSubstr: "field selector status.issuer needs a value"},
		{name: "two values", opts: &metainternalversion.ListOptions{FieldSelector: fields.ParseSelectorOrDie("status.username=a,status.username=b")},
			wantSubstr: "field selector status.username is given two different values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := f.rest.List(requestContext(ns), tt.opts)
			wantStatus(t, err, http.StatusBadRequest, tt.wantSubstr)
		})
	}
	// Empty selectors, as every plain list sends them, are no filter.
	obj, err := f.rest.List(requestContext(ns), &metainternalversion.ListOptions{LabelSelector: labels.Everything(), FieldSelector: fields.Everything()})
	if err != nil || len(obj.(*sessionapis.SupervisorSessionList).Items) != 3 {
		t.Errorf("List with empty selectors: %v, %v", obj, err)
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false, nil)
	var validated runtime.Object
	obj, deleted, err := f.rest.Delete(requestContext(ns), idAlice1, func(_ context.Context, o runtime.Object) error {
		validated = o
		return nil
	}, &metav1.DeleteOptions{})
	if err != nil || !deleted {
		t.Fatalf("Delete = %v, %v", deleted, err)
	}
	if got := obj.(*sessionapis.SupervisorSession); got.Name != idAlice1 || got.Status.Username != "alice@example.com" {
		t.Errorf("returned %+v", got)
	}
	if s, ok := validated.(*sessionapis.SupervisorSession); !ok || s.Name != idAlice1 {
		t.Errorf("admission saw %v", validated)
	}
	if _, err := f.store.Get(context.Background(), idAlice1); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Errorf("the session is still stored: %v", err)
	}
	if diff := cmp.Diff([][]byte{[]byte("upstream-tokens-of-" + idAlice1)}, f.revoked); diff != "" {
		t.Errorf("revoked upstream data (-want +got):\n%s", diff)
	}
	_, _, err = f.rest.Delete(requestContext(ns), idAlice1, nil, &metav1.DeleteOptions{})
	wantStatus(t, err, http.StatusNotFound, "not found")
	if len(f.revoked) != 1 {
		t.Errorf("revoked %d times, want once", len(f.revoked))
	}
}

func TestDeleteRefused(t *testing.T) {
	t.Parallel()
	stale := "1"
	tests := []struct {
		name      string
		namespace string
		opts      *metav1.DeleteOptions
		validate  func(context.Context, runtime.Object) error
		wantCode  int32
		substr    string
	}{
		{name: "other namespace", namespace: "default", wantCode: http.StatusBadRequest, substr: "namespace must be selkie-supervisor"},
		{name: "all namespaces", namespace: "", wantCode: http.StatusBadRequest, substr: "namespace must be selkie-supervisor"},
		{name: "stale resourceVersion", namespace: ns, opts: &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &stale}},
			wantCode: http.StatusConflict, substr: "ResourceVersion in precondition: 1"},
		{name: "admission", namespace: ns, validate: func(context.Context, runtime.Object) error {
			return apierrors.NewForbidden(sessionapis.Resource(sessionapi.Resource), idBob, errors.New("no"))
		}, wantCode: http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, false, nil)
			_, _, err := f.rest.Delete(requestContext(tt.namespace), idBob, tt.validate, tt.opts)
			wantStatus(t, err, tt.wantCode, tt.substr)
			if _, err := f.store.Get(context.Background(), idBob); err != nil {
				t.Errorf("a refused delete removed the session: %v", err)
			}
			if len(f.revoked) != 0 {
				t.Errorf("a refused delete revoked upstream tokens")
			}
		})
	}
}

func TestDeleteDryRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false, nil)
	obj, _, err := f.rest.Delete(requestContext(ns), idBob, nil, &metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil || obj.(*sessionapis.SupervisorSession).Name != idBob {
		t.Fatalf("dry run: %v, %v", obj, err)
	}
	if _, err := f.store.Get(context.Background(), idBob); err != nil || len(f.revoked) != 0 {
		t.Errorf("a dry run deleted (%v) or revoked (%d)", err, len(f.revoked))
	}
}
