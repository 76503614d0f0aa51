// SPDX-License-Identifier: Apache-2.0

package sessionapi_test

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	sessionapis "github.com/selkie-dev/selkie/pkg/apis/supervisor/session"
	"github.com/selkie-dev/selkie/pkg/supervisor/clientsecretrequest"
	"github.com/selkie-dev/selkie/pkg/supervisor/sessionapi"
)

// newScheme is the supervisor's API scheme: both groups of the pinniped.dev suffix.
func newScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s, err := clientsecretrequest.NewScheme("clientsecretrequest.supervisor.pinniped.dev")
	if err != nil {
		t.Fatal(err)
	}
	if err := sessionapi.AddToScheme(s, group); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSchemeEncode encodes a session and a list as the API server does, in the group
// of another suffix.
func TestSchemeEncode(t *testing.T) {
	t.Parallel()
	s := newScheme(t)
	codecs := serializer.NewCodecFactory(s)
	info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), runtime.ContentTypeJSON)
	if !ok {
		t.Fatal("no JSON serializer")
	}
	enc := codecs.EncoderForVersion(info.Serializer, schema.GroupVersion{Group: group, Version: "v1alpha1"})
	at := metav1.NewTime(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	out, err := runtime.Encode(enc, &sessionapis.SupervisorSessionList{Items: []sessionapis.SupervisorSession{{
		ObjectMeta: metav1.ObjectMeta{Name: idBob, Namespace: ns, CreationTimestamp: at},
		Status: sessionapis.SupervisorSessionStatus{Username: "bob", ClientID: "pinniped-cli", AuthTime: at, Expires: at,
			IdentityProvider: sessionapis.SupervisorSessionIdentityProvider{DisplayName: "dex", Type: "oidc"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"apiVersion":"session.supervisor.pinniped.dev/v1alpha1"`, `"kind":"SupervisorSessionList"`,
		`"clientID":"pinniped-cli"`, `"identityProvider":{"displayName":"dex","type":"oidc","kind":"","name":""}`,
		`"authTime":"2025-06-01T12:00:00Z"`, `"expires":"2025-06-01T12:00:00Z"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("encoded %s, want %s in it", out, want)
		}
	}
	if got := s.PrioritizedVersionsForGroup(group); len(got) != 1 || got[0].Version != "v1alpha1" {
		t.Errorf("prioritized versions %v", got)
	}
}

// TestSchemeFieldLabels checks the field selectors the API server lets through to the
// storage: the two it supports, nothing else (not even metadata.name).
func TestSchemeFieldLabels(t *testing.T) {
	t.Parallel()
	s := newScheme(t)
	gvk := schema.GroupVersionKind{Group: group, Version: "v1alpha1", Kind: "SupervisorSession"}
	for label, ok := range map[string]bool{"status.username": true, "status.issuer": true, "metadata.name": false, "status.clientID": false} {
		gotLabel, gotValue, err := s.ConvertFieldLabel(gvk, label, "v")
		if ok != (err == nil) || (ok && (gotLabel != label || gotValue != "v")) {
			t.Errorf("ConvertFieldLabel(%s) = %q, %q, %v", label, gotLabel, gotValue, err)
		}
	}
}
