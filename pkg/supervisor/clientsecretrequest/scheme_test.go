// SPDX-License-Identifier: Apache-2.0

package clientsecretrequest_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	csapi "github.com/selkie-dev/selkie/pkg/apis/supervisor/clientsecret"
	"github.com/selkie-dev/selkie/pkg/supervisor/clientsecretrequest"
)

// TestSchemeRoundTrip decodes a request of another suffix's group into the internal
// type and encodes a response back, as the API server does.
func TestSchemeRoundTrip(t *testing.T) {
	t.Parallel()
	const group = "clientsecretrequest.supervisor.pinniped.dev"
	s, err := clientsecretrequest.NewScheme(group)
	if err != nil {
		t.Fatal(err)
	}
	codecs := serializer.NewCodecFactory(s)
	in := `{"apiVersion":"clientsecretrequest.supervisor.pinniped.dev/v1alpha1","kind":"OIDCClientSecretRequest",` +
		`"metadata":{"name":"client.oauth.pinniped.dev-x"},"spec":{"generateNewSecret":true}}`
	obj, _, err := codecs.UniversalDecoder().Decode([]byte(in), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	req, ok := obj.(*csapi.OIDCClientSecretRequest)
	if !ok || !req.Spec.GenerateNewSecret || req.Spec.RevokeOldSecrets || req.Name != "client.oauth.pinniped.dev-x" {
		t.Fatalf("decoded %#v", obj)
	}
	info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), runtime.ContentTypeJSON)
	if !ok {
		t.Fatal("no JSON serializer")
	}
	enc := codecs.EncoderForVersion(info.Serializer, schema.GroupVersion{Group: group, Version: "v1alpha1"})
	out, err := runtime.Encode(enc, &csapi.OIDCClientSecretRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"apiVersion":"clientsecretrequest.supervisor.pinniped.dev/v1alpha1"`, `"kind":"OIDCClientSecretRequest"`, `"totalClientSecrets":0`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("encoded %s, want %s in it", out, want)
		}
	}
}
