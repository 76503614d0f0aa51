// SPDX-License-Identifier: Apache-2.0

package suffix

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

func TestWrapConfigRewritesGroupsBothWays(t *testing.T) {
	var gotPath, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath = r.URL.Path
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"apiVersion":"config.concierge.pinniped.dev/v1alpha1","kind":"CredentialIssuer"}`+"\n"+
			`{"type":"ADDED","object":{"apiVersion":"config.concierge.pinniped.dev/v1alpha1"}}`+"\n")
	}))
	defer srv.Close()
	cfg := WrapConfig(&rest.Config{Host: srv.URL}, "pinniped.dev")
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/apis/config.concierge.selkie.dev/v1alpha1/credentialissuers",
		strings.NewReader(`{"apiVersion":"config.concierge.selkie.dev/v1alpha1","metadata":{"name":"x.selkie.dev"}}`))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if gotPath != "/apis/config.concierge.pinniped.dev/v1alpha1/credentialissuers" {
		t.Errorf("path %q", gotPath)
	}
	if want := `{"apiVersion":"config.concierge.pinniped.dev/v1alpha1","metadata":{"name":"x.selkie.dev"}}`; gotBody != want {
		t.Errorf("request body %q, want %q (names that merely end in the suffix are left alone)", gotBody, want)
	}
	if strings.Contains(string(body), "pinniped.dev") || strings.Count(string(body), "config.concierge.selkie.dev/v1alpha1") != 2 {
		t.Errorf("response body %q", body)
	}
	if WrapConfig(&rest.Config{Host: "x"}, Default).WrapTransport != nil {
		t.Error("the default suffix was wrapped")
	}
}
