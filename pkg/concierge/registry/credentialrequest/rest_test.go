// SPDX-License-Identifier: Apache-2.0

package credentialrequest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	authn "k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/selkie-dev/selkie/pkg/aggregatedapi"
	"github.com/selkie-dev/selkie/pkg/apis/concierge/login"
	"github.com/selkie-dev/selkie/pkg/certauthority"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator"
	"github.com/selkie-dev/selkie/pkg/logfingerprint"
	"github.com/selkie-dev/selkie/pkg/ratelimit"
	"github.com/selkie-dev/selkie/pkg/servermetrics"
)

const (
	group = "authentication.concierge.selkie.dev"
	token = "the-secret-token"
)

type fakeToken struct {
	user user.Info
	ok   bool
	err  error
}

func (f fakeToken) AuthenticateToken(_ context.Context, tok string) (*authn.Response, bool, error) {
	if tok != token || f.err != nil || !f.ok {
		return nil, false, f.err
	}
	return &authn.Response{User: f.user}, true, nil
}

type caIssuer struct {
	ca  *certauthority.CA
	err error
}

func (c caIssuer) IssueClientCert(_ context.Context, username string, groups []string) (*certauthority.KeyPair, error) {
	if c.err != nil {
		return nil, c.err
	}
	return c.ca.IssueClientCert(username, groups, certauthority.DefaultTTL)
}

func request(kind, name string) *login.TokenCredentialRequest {
	g := group
	return &login.TokenCredentialRequest{Spec: login.TokenCredentialRequestSpec{
		Token: token, Authenticator: corev1.TypedLocalObjectReference{APIGroup: &g, Kind: kind, Name: name},
	}}
}

func TestCreate(t *testing.T) {
	t.Parallel()
	ca, err := certauthority.New("test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pinny := &user.DefaultInfo{Name: "pinny", Groups: []string{"seals", "admins"}}
	tests := []struct {
		name       string
		authn      authenticator.Token
		issuerErr  error
		req        *login.TokenCredentialRequest
		wantReason string // empty: success
	}{
		{name: "success", authn: fakeToken{user: pinny, ok: true}, req: request("JWTAuthenticator", "sup")},
		{name: "credential-id extra is fine", authn: fakeToken{user: &user.DefaultInfo{Name: "p", Extra: map[string][]string{credentialIDExtra: {"x"}}}, ok: true}, req: request("JWTAuthenticator", "sup")},
		{name: "unknown authenticator name", authn: fakeToken{user: pinny, ok: true}, req: request("JWTAuthenticator", "other"), wantReason: "no ready authenticator"},
		{name: "wrong kind", authn: fakeToken{user: pinny, ok: true}, req: request("WebhookAuthenticator", "sup"), wantReason: "no ready authenticator"},
		{name: "nil apiGroup", authn: fakeToken{user: pinny, ok: true}, req: func() *login.TokenCredentialRequest {
			r := request("JWTAuthenticator", "sup")
			r.Spec.Authenticator.APIGroup = nil
			return r
		}(), wantReason: "no ready authenticator"},
		{name: "token error", authn: fakeToken{err: errors.New("oidc: token is expired")}, req: request("JWTAuthenticator", "sup"), wantReason: "token rejected: oidc: token is expired"},
		{name: "token not ok", authn: fakeToken{}, req: request("JWTAuthenticator", "sup"), wantReason: "token rejected"},
		{name: "empty username", authn: fakeToken{user: &user.DefaultInfo{Groups: []string{"g"}}, ok: true}, req: request("JWTAuthenticator", "sup"), wantReason: "empty username"},
		{name: "uid", authn: fakeToken{user: &user.DefaultInfo{Name: "p", UID: "1"}, ok: true}, req: request("JWTAuthenticator", "sup"), wantReason: "has a UID"},
		{name: "extra", authn: fakeToken{user: &user.DefaultInfo{Name: "p", Extra: map[string][]string{"scopes": {"a"}}}, ok: true}, req: request("JWTAuthenticator", "sup"), wantReason: "has extra"},
		// Whatever the authenticator kind, Kubernetes' reserved names never reach a certificate.
		{name: "system: username", authn: fakeToken{user: &user.DefaultInfo{Name: "system:kube-controller-manager"}, ok: true}, req: request("WebhookAuthenticator", "hook"), wantReason: "reserved by Kubernetes"},
		{name: "ServiceAccount username", authn: fakeToken{user: &user.DefaultInfo{Name: "system:serviceaccount:kube-system:default"}, ok: true}, req: request("WebhookAuthenticator", "hook"), wantReason: "reserved by Kubernetes"},
		{name: "system:masters group", authn: fakeToken{user: &user.DefaultInfo{Name: "mallory", Groups: []string{"devs", "system:masters"}}, ok: true}, req: request("WebhookAuthenticator", "hook"), wantReason: "reserved by Kubernetes"},
		{name: "system:nodes group", authn: fakeToken{user: &user.DefaultInfo{Name: "mallory", Groups: []string{"system:nodes"}}, ok: true}, req: request("JWTAuthenticator", "sup"), wantReason: "reserved by Kubernetes"},
		{name: "issuer error", authn: fakeToken{user: pinny, ok: true}, issuerErr: certauthority.ErrIdentityTooLarge, req: request("JWTAuthenticator", "sup"), wantReason: "could not issue a certificate: username and groups do not fit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cache := authenticator.NewCache()
			cache.Set(authenticator.Key{APIGroup: group, Kind: "JWTAuthenticator", Name: "sup"}, tt.authn)
			cache.Set(authenticator.Key{APIGroup: group, Kind: "WebhookAuthenticator", Name: "hook"}, tt.authn)
			var logs bytes.Buffer
			key := logfingerprint.Random()
			r := NewREST(cache, caIssuer{ca: ca, err: tt.issuerErr}, schema.GroupResource{}, Options{Log: slog.New(slog.NewJSONHandler(&logs, nil)), Fingerprint: key})
			out, err := r.Create(context.Background(), tt.req, nil, &metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("Create returned an error, want a status: %v", err)
			}
			got := out.(*login.TokenCredentialRequest).Status
			if strings.Contains(logs.String(), token) {
				t.Errorf("the token leaked into the audit log: %s", logs.String())
			}
			// An unkeyed SHA-256 of a short token is reversed by hashing guesses.
			if plain := sha256.Sum256([]byte(token)); strings.Contains(logs.String(), hex.EncodeToString(plain[:])) {
				t.Errorf("the audit log holds the token's unkeyed SHA-256: %s", logs.String())
			}
			if !strings.Contains(logs.String(), `"tokenFingerprint":"`+key.Of(token)+`"`) {
				t.Errorf("audit log lacks the token fingerprint: %s", logs.String())
			}
			if tt.wantReason == "" {
				if got.Message != nil || got.Credential == nil || !strings.HasPrefix(got.Credential.ClientCertificateData, "-----BEGIN CERTIFICATE-----") ||
					!strings.HasPrefix(got.Credential.ClientKeyData, "-----BEGIN PRIVATE KEY-----") || got.Credential.ExpirationTimestamp.IsZero() {
					t.Errorf("want a credential, got %+v", got)
				}
				return
			}
			if got.Credential != nil || got.Message == nil || *got.Message != FailureMessage {
				t.Errorf("want only the generic failure, got %+v", got)
			}
			if !strings.Contains(logs.String(), tt.wantReason) {
				t.Errorf("audit log lacks reason %q: %s", tt.wantReason, logs.String())
			}
			if strings.Contains(logs.String(), `"pinny"`) {
				t.Errorf("username not redacted: %s", logs.String())
			}
		})
	}
}

func TestCreateRequestErrors(t *testing.T) {
	t.Parallel()
	r := NewREST(authenticator.NewCache(), caIssuer{}, schema.GroupResource{}, Options{})
	nsCtx := genericapirequest.WithNamespace(context.Background(), "ns1")
	empty := request("JWTAuthenticator", "sup")
	empty.Spec.Token = ""
	tests := []struct {
		name    string
		ctx     context.Context
		obj     runtime.Object
		opts    *metav1.CreateOptions
		check   func(error) bool
		message string
	}{
		{name: "namespace", ctx: nsCtx, obj: request("JWTAuthenticator", "sup"), check: apierrors.IsBadRequest, message: "namespace is not allowed on TokenCredentialRequest: ns1"},
		{name: "dry run", ctx: context.Background(), obj: request("JWTAuthenticator", "sup"), opts: &metav1.CreateOptions{DryRun: []string{"All"}}, check: apierrors.IsInvalid, message: "dryRun not supported"},
		{name: "empty token", ctx: context.Background(), obj: empty, check: apierrors.IsInvalid, message: "spec.token.value: Required value: token must be supplied"},
		{name: "wrong type", ctx: context.Background(), obj: &login.TokenCredentialRequestList{}, check: apierrors.IsBadRequest, message: "not a TokenCredentialRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := r.Create(tt.ctx, tt.obj, nil, tt.opts)
			if !tt.check(err) || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error = %v, want one containing %q", err, tt.message)
			}
		})
	}
}

func TestAdmissionSeesNoToken(t *testing.T) {
	t.Parallel()
	r := NewREST(authenticator.NewCache(), caIssuer{}, schema.GroupResource{}, Options{})
	var seen string
	_, err := r.Create(context.Background(), request("JWTAuthenticator", "sup"), func(_ context.Context, obj runtime.Object) error {
		seen = obj.(*login.TokenCredentialRequest).Spec.Token
		return nil
	}, nil)
	if err != nil || seen != "" {
		t.Errorf("admission saw token %q (err %v), want it blanked", seen, err)
	}
	denied := errors.New("denied by admission")
	if _, err := r.Create(context.Background(), request("JWTAuthenticator", "sup"), func(context.Context, runtime.Object) error { return denied }, nil); !errors.Is(err, denied) {
		t.Errorf("admission denial not returned: %v", err)
	}
}

func TestListIsEmpty(t *testing.T) {
	t.Parallel()
	r := NewREST(authenticator.NewCache(), caIssuer{}, schema.GroupResource{}, Options{})
	out, err := r.List(context.Background(), nil)
	list, ok := out.(*login.TokenCredentialRequestList)
	if err != nil || !ok || len(list.Items) != 0 || list.ResourceVersion != "0" {
		t.Errorf("List = %+v, %v", out, err)
	}
}

// countingToken counts the tokens it is asked about.
type countingToken struct {
	fakeToken
	calls *atomic.Int32
}

func (c countingToken) AuthenticateToken(ctx context.Context, tok string) (*authn.Response, bool, error) {
	c.calls.Add(1)
	return c.fakeToken.AuthenticateToken(ctx, tok)
}

// TestFailedLoginsAreLimitedPerAddress: past the burst of failures, an address gets 429
// and its tokens are not checked at all (a webhook authenticator is not called).
func TestFailedLoginsAreLimitedPerAddress(t *testing.T) {
	t.Parallel()
	ca, err := certauthority.New("test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	cache := authenticator.NewCache()
	cache.Set(authenticator.Key{APIGroup: group, Kind: "WebhookAuthenticator", Name: "hook"},
		countingToken{fakeToken{user: &user.DefaultInfo{Name: "pinny"}, ok: true}, &calls})
	r := NewREST(cache, caIssuer{ca: ca}, schema.GroupResource{}, Options{Failures: ratelimit.Rule{PerMinute: 1, Burst: 3}})
	from := func(addr string) context.Context { return aggregatedapi.WithClientAddress(context.Background(), addr) }
	bad := request("WebhookAuthenticator", "hook")
	bad.Spec.Token = "wrong"
	for i := range 3 {
		if _, err := r.Create(from("192.0.2.1"), bad.DeepCopy(), nil, &metav1.CreateOptions{}); err != nil {
			t.Fatalf("failure %d: %v, want the generic failure", i+1, err)
		}
	}
	before := calls.Load()
	if _, err := r.Create(from("192.0.2.1"), request("WebhookAuthenticator", "hook"), nil, &metav1.CreateOptions{}); !apierrors.IsTooManyRequests(err) {
		t.Errorf("past the burst: %v, want 429", err)
	}
	if calls.Load() != before {
		t.Error("a refused request reached the authenticator")
	}
	out, err := r.Create(from("192.0.2.2"), request("WebhookAuthenticator", "hook"), nil, &metav1.CreateOptions{})
	if err != nil || out.(*login.TokenCredentialRequest).Status.Credential == nil {
		t.Errorf("another address: %v", err)
	}
}

// TestCreateCounts: every request moves selkie_concierge_token_credential_requests_total
// once, labelled with the authenticator only when it exists. Not parallel: the counter is
// shared with the other tests.
func TestCreateCounts(t *testing.T) {
	ca, err := certauthority.New("test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cache := authenticator.NewCache()
	cache.Set(authenticator.Key{APIGroup: group, Kind: "JWTAuthenticator", Name: "counted"},
		fakeToken{user: &user.DefaultInfo{Name: "pinny"}, ok: true})
	r := NewREST(cache, caIssuer{ca: ca}, schema.GroupResource{}, Options{Failures: ratelimit.Rule{PerMinute: 1, Burst: 2}})
	type series struct{ kind, name, outcome, reason string }
	value := func(s series) float64 {
		return testutil.ToFloat64(servermetrics.TokenCredentialRequests.WithLabelValues(s.kind, s.name, s.outcome, s.reason))
	}
	ok := series{"JWTAuthenticator", "counted", servermetrics.Success, servermetrics.ReasonNone}
	rejected := series{"JWTAuthenticator", "counted", servermetrics.Failure, servermetrics.ReasonTokenRejected}
	unknown := series{"", "", servermetrics.Failure, servermetrics.ReasonAuthenticatorNotFound}
	limited := series{"", "", servermetrics.Failure, servermetrics.ReasonRateLimited}
	before := map[series]float64{}
	for _, s := range []series{ok, rejected, unknown, limited} {
		before[s] = value(s)
	}
	ctx := aggregatedapi.WithClientAddress(context.Background(), "192.0.2.9")
	bad := request("JWTAuthenticator", "counted")
	bad.Spec.Token = "wrong"
	for _, req := range []*login.TokenCredentialRequest{
		request("JWTAuthenticator", "counted"), bad, request("JWTAuthenticator", "made-up-by-the-client"), request("JWTAuthenticator", "counted"),
	} {
		_, _ = r.Create(ctx, req, nil, &metav1.CreateOptions{})
	}
	for s, want := range map[series]float64{ok: 1, rejected: 1, unknown: 1, limited: 1} {
		if got := value(s) - before[s]; got != want {
			t.Errorf("%+v moved by %v, want %v", s, got, want)
		}
	}
	if n := testutil.ToFloat64(servermetrics.TokenCredentialRequests.WithLabelValues("JWTAuthenticator", "made-up-by-the-client", servermetrics.Failure, servermetrics.ReasonAuthenticatorNotFound)); n != 0 {
		t.Error("a name the client made up became a label value")
	}
}
