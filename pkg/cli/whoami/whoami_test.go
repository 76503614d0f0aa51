// SPDX-License-Identifier: Apache-2.0

package whoami

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	identityv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/identity/v1alpha1"
)

// apiServer answers WhoAmIRequests of group with answer (status 201) and records the
// request it decoded.
func apiServer(t *testing.T, group string, status int, answer string) (*httptest.Server, *identityv1alpha1.WhoAmIRequest) {
	t.Helper()
	got := &identityv1alpha1.WhoAmIRequest{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/apis/"+group+"/v1alpha1/whoamirequests" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer the-token" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("Authorization %q, Content-Type %q", r.Header.Get("Authorization"), r.Header.Get("Content-Type"))
		}
		if err := json.NewDecoder(r.Body).Decode(got); err != nil {
			t.Errorf("decode the request: %v", err)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// kubeconfig writes a kubeconfig for srv with a bearer token and returns its path.
func kubeconfig(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["the-cluster"] = &clientcmdapi.Cluster{Server: srv.URL,
		CertificateAuthorityData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})}
	cfg.AuthInfos["the-user"] = &clientcmdapi.AuthInfo{Token: "the-token"}
	cfg.Contexts["the-context"] = &clientcmdapi.Context{Cluster: "the-cluster", AuthInfo: "the-user"}
	cfg.CurrentContext = "the-context"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

const answer = `{"kind":"WhoAmIRequest","apiVersion":"identity.concierge.selkie.dev/v1alpha1","metadata":{},"spec":{},` +
	`"status":{"kubernetesUserInfo":{"user":{"username":"alice@example.com","uid":"u-1","groups":["devs","ops"],"extra":{"idp":["okta"]}}}}}`

func TestWhoAmI(t *testing.T) {
	for _, tc := range []struct {
		name, output, suffix, group string
		status                      int
		answer, want, wantErr       string
	}{
		{name: "text", output: "text", suffix: "selkie.dev", group: "identity.concierge.selkie.dev", status: http.StatusCreated, answer: answer,
			want: "Current cluster info:\n\nName: the-cluster\nURL: {server}\n\nCurrent user info:\n\nUsername: alice@example.com\nGroups: devs, ops\n"},
		{name: "a custom suffix", output: "text", suffix: "acme.example", group: "identity.concierge.acme.example", status: http.StatusCreated, answer: answer,
			want: "Current cluster info:\n\nName: the-cluster\nURL: {server}\n\nCurrent user info:\n\nUsername: alice@example.com\nGroups: devs, ops\n"},
		{name: "the wrong suffix", output: "text", suffix: "acme.example", group: "identity.concierge.selkie.dev", status: http.StatusCreated, answer: answer,
			wantErr: `could not complete WhoAmIRequest (is the concierge installed with API group suffix "identity.concierge.acme.example"?): 404 Not Found`},
		{name: "forbidden", output: "text", suffix: "selkie.dev", group: "identity.concierge.selkie.dev", status: http.StatusForbidden, answer: `{"kind":"Status","message":"forbidden"}`,
			wantErr: `could not complete WhoAmIRequest: 403 Forbidden: {"kind":"Status","message":"forbidden"}`},
		{name: "not JSON", output: "text", suffix: "selkie.dev", group: "identity.concierge.selkie.dev", status: http.StatusCreated, answer: `<html>`,
			wantErr: "could not decode the WhoAmIRequest"},
		{name: "an unknown output", output: "xml", suffix: "selkie.dev", group: "identity.concierge.selkie.dev", status: http.StatusCreated, answer: answer,
			wantErr: `--output "xml": use text, yaml or json`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := apiServer(t, tc.group, tc.status, tc.answer)
			var out bytes.Buffer
			err := run(context.Background(), &out, &flagpole{kubeconfig: kubeconfig(t, srv), suffix: tc.suffix, output: tc.output})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(strings.ReplaceAll(tc.want, "{server}", srv.URL), out.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			want := identityv1alpha1.WhoAmIRequest{TypeMeta: metav1.TypeMeta{APIVersion: tc.group + "/v1alpha1", Kind: "WhoAmIRequest"}}
			if diff := cmp.Diff(want, *got); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWhoAmIJSON checks that -o json prints the whole WhoAmIRequest the concierge
// answered, extras included.
func TestWhoAmIJSON(t *testing.T) {
	srv, _ := apiServer(t, "identity.concierge.selkie.dev", http.StatusCreated, answer)
	var out bytes.Buffer
	if err := run(context.Background(), &out, &flagpole{kubeconfig: kubeconfig(t, srv), suffix: "selkie.dev", output: "json"}); err != nil {
		t.Fatal(err)
	}
	var printed, served map[string]any
	if err := json.Unmarshal(out.Bytes(), &printed); err != nil {
		t.Fatalf("the output is not JSON: %v\n%s", err, out.String())
	}
	if err := json.Unmarshal([]byte(answer), &served); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(served, printed); diff != "" {
		t.Errorf("output (-served +printed):\n%s", diff)
	}
}
