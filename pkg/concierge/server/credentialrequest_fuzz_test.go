// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	authn "k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/selkie-dev/selkie/pkg/apis/concierge/login"
	"github.com/selkie-dev/selkie/pkg/certauthority"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator"
	"github.com/selkie-dev/selkie/pkg/concierge/registry/credentialrequest"
)

// fuzzGoodToken is the one token the fake authenticators accept.
const fuzzGoodToken = "good-token"

// fuzzAuthenticator accepts fuzzGoodToken for its user and refuses everything else.
type fuzzAuthenticator struct{ user user.Info }

func (a fuzzAuthenticator) AuthenticateToken(_ context.Context, token string) (*authn.Response, bool, error) {
	if token != fuzzGoodToken {
		return nil, false, nil
	}
	return &authn.Response{User: a.user}, true, nil
}

// caIssuer issues certificates with a real CA.
type caIssuer struct{ ca *certauthority.CA }

func (c caIssuer) IssueClientCert(_ context.Context, username string, groups []string) (*certauthority.KeyPair, error) {
	return c.ca.IssueClientCert(username, groups, certauthority.DefaultTTL)
}

// FuzzTokenCredentialRequestDecode decodes fuzzed request bodies with the concierge's
// real scheme and JSON codec, as the API server does for a create, and hands what
// decodes to the TokenCredentialRequest storage, with authenticators that accept one
// token ("good-token") for a normal user, a system: user, and a user with a UID.
//
// Properties:
//   - decoding and Create never panic;
//   - a body that does not decode yields an error and no object;
//   - Create answers either an API error (a Status the client can read) and no object,
//     or a TokenCredentialRequest whose status has exactly one of credential and
//     message, and never echoes the spec (the token); dry runs and namespaced requests
//     are API errors;
//   - a credential is only ever issued for the good token through the normal user's
//     authenticator, and is a PEM certificate for exactly that user, which protects
//     against logins with wrong tokens and certificates for reserved identities.
func FuzzTokenCredentialRequestDecode(f *testing.F) {
	groups, err := GroupsFor(DefaultSuffix)
	if err != nil {
		f.Fatal(err)
	}
	scheme, err := newScheme(groups)
	if err != nil {
		f.Fatal(err)
	}
	codecs := serializer.NewCodecFactory(scheme)
	info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), runtime.ContentTypeJSON)
	if !ok {
		f.Fatal("no JSON serializer")
	}
	internal := schema.GroupVersion{Group: groups.Login, Version: runtime.APIVersionInternal}
	decoder := codecs.DecoderToVersion(info.Serializer, internal)
	defaultGVK := schema.GroupVersionKind{Group: groups.Login, Version: "v1alpha1", Kind: "TokenCredentialRequest"}

	ca, err := certauthority.New("fuzz", time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	cache := authenticator.NewCache()
	authGroup := groups.Authentication
	cache.Set(authenticator.Key{APIGroup: authGroup, Kind: "JWTAuthenticator", Name: "jwt"},
		fuzzAuthenticator{user: &user.DefaultInfo{Name: "pinny", Groups: []string{"seals", "admins"}}})
	cache.Set(authenticator.Key{APIGroup: authGroup, Kind: "WebhookAuthenticator", Name: "system"},
		fuzzAuthenticator{user: &user.DefaultInfo{Name: "system:admin", Groups: []string{"system:masters"}}})
	cache.Set(authenticator.Key{APIGroup: authGroup, Kind: "WebhookAuthenticator", Name: "uid"},
		fuzzAuthenticator{user: &user.DefaultInfo{Name: "pinny", UID: "1"}})
	storage := credentialrequest.NewREST(cache, caIssuer{ca: ca},
		schema.GroupResource{Group: groups.Login, Resource: "tokencredentialrequests"}, credentialrequest.Options{})

	body := func(apiVersion, kind, token, authKind, name string) string {
		return `{"apiVersion":"` + apiVersion + `","kind":"` + kind + `","spec":{"token":"` + token +
			`","authenticator":{"apiGroup":"` + authGroup + `","kind":"` + authKind + `","name":"` + name + `"}}}`
	}
	v1 := groups.Login + "/v1alpha1"
	for _, s := range []string{
		body(v1, "TokenCredentialRequest", fuzzGoodToken, "JWTAuthenticator", "jwt"),
		body(v1, "TokenCredentialRequest", "bad-token", "JWTAuthenticator", "jwt"),
		body(v1, "TokenCredentialRequest", fuzzGoodToken, "WebhookAuthenticator", "system"),
		body(v1, "TokenCredentialRequest", fuzzGoodToken, "WebhookAuthenticator", "uid"),
		body(v1, "TokenCredentialRequest", "", "JWTAuthenticator", "jwt"),
		body("login.concierge.pinniped.dev/v1alpha1", "TokenCredentialRequest", fuzzGoodToken, "JWTAuthenticator", "jwt"),
		body(v1, "TokenCredentialRequestList", fuzzGoodToken, "JWTAuthenticator", "jwt"),
		body(groups.Identity+"/v1alpha1", "WhoAmIRequest", fuzzGoodToken, "JWTAuthenticator", "jwt"),
		body("v1", "Status", "x", "", ""),
		`{"spec":{"token":"good-token","authenticator":{"kind":"JWTAuthenticator","name":"jwt"}},"status":{"message":"forged","credential":{"token":"t"}}}`,
		`{"apiVersion":"` + v1 + `","kind":"TokenCredentialRequest","metadata":{"name":"x","namespace":"kube-system"},"spec":{"token":1}}`,
		`{"kind":"TokenCredentialRequest"`,
		`null`,
		``,
	} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(body(v1, "TokenCredentialRequest", fuzzGoodToken, "JWTAuthenticator", "jwt")), true)
	f.Fuzz(func(t *testing.T, data []byte, dryRun bool) {
		obj, _, err := decoder.Decode(data, &defaultGVK, &login.TokenCredentialRequest{})
		if err != nil {
			if obj != nil {
				if _, ok := obj.(*login.TokenCredentialRequest); ok && !strings.Contains(err.Error(), "strict decoding") {
					// The codec may return the object with a non-fatal strict error only.
					t.Errorf("decode failed (%v) but returned a %T", err, obj)
				}
			}
			return
		}
		var submitted *login.TokenCredentialRequest
		if tcr, ok := obj.(*login.TokenCredentialRequest); ok {
			submitted = tcr.DeepCopy()
		}
		opts := &metav1.CreateOptions{}
		if dryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		ctx, cancel := context.WithTimeout(genericapirequest.NewContext(), 10*time.Second)
		defer cancel()
		if submitted != nil && submitted.Namespace != "" {
			// As if the request came to a namespaced URL, which the storage refuses.
			ctx = genericapirequest.WithNamespace(ctx, submitted.Namespace)
		}
		out, err := storage.Create(ctx, obj, nil, opts)
		if err != nil {
			if out != nil {
				t.Errorf("Create failed (%v) but returned %T", err, out)
			}
			if _, ok := err.(apierrors.APIStatus); !ok {
				t.Errorf("Create error %T %v is not an API error", err, err)
			}
			return
		}
		if submitted == nil {
			t.Fatalf("Create accepted a %T", obj)
		}
		if dryRun || submitted.Namespace != "" {
			t.Errorf("Create accepted a dry run (%v) or a namespace (%q)", dryRun, submitted.Namespace)
		}
		resp, ok := out.(*login.TokenCredentialRequest)
		if !ok {
			t.Fatalf("Create returned a %T", out)
		}
		status := resp.Status
		if (status.Credential == nil) == (status.Message == nil) {
			t.Fatalf("status has credential %v and message %v: want exactly one", status.Credential, status.Message)
		}
		if resp.Spec.Token != "" || resp.Name != "" || resp.Namespace != "" {
			t.Errorf("the answer echoes the request: %+v", resp.ObjectMeta)
		}
		if status.Message != nil {
			if *status.Message != credentialrequest.FailureMessage {
				t.Errorf("failure message %q, want the generic one", *status.Message)
			}
			return
		}
		a := submitted.Spec.Authenticator
		if submitted.Spec.Token != fuzzGoodToken || a.APIGroup == nil || *a.APIGroup != authGroup || a.Kind != "JWTAuthenticator" || a.Name != "jwt" {
			t.Fatalf("a credential was issued for token %q with authenticator %+v", submitted.Spec.Token, a)
		}
		block, _ := pem.Decode([]byte(status.Credential.ClientCertificateData))
		if block == nil {
			t.Fatal("the credential has no PEM certificate")
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if cert.Subject.CommonName != "pinny" || !slices.Equal(slices.Sorted(slices.Values(cert.Subject.Organization)), []string{"admins", "seals"}) {
			t.Errorf("certificate for %q in %q, want pinny in seals and admins", cert.Subject.CommonName, cert.Subject.Organization)
		}
		if status.Credential.ClientKeyData == "" || status.Credential.Token != "" || status.Credential.ExpirationTimestamp.IsZero() {
			t.Errorf("credential %+v: want a key, an expiry and no token", status.Credential)
		}
	})
}
