// SPDX-License-Identifier: Apache-2.0

package tlsconfig_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/internal/fakeclient"
	"github.com/selkie-dev/selkie/pkg/internal/testtls"
	"github.com/selkie-dev/selkie/pkg/tlsconfig"
)

const ns = "selkie-concierge"

func newClient(t *testing.T, funcs *interceptor.Funcs, objs ...client.Object) client.Client {
	t.Helper()
	return fakeclient.New(t, fakeclient.Options{Intercept: funcs}, objs...)
}

func TestLoad(t *testing.T) {
	t.Parallel()
	ca := testtls.NewCA(t)
	twoCAs := append(append([]byte{}, ca.PEM()...), testtls.NewCA(t).PEM()...)
	secret := func(typ corev1.SecretType, data map[string][]byte) client.Object {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ca"}, Type: typ, Data: data}
	}
	src := func(kind string) *tlsconfig.Source { return &tlsconfig.Source{Kind: kind, Name: "ca", Key: "ca.crt"} }
	tests := []struct {
		name          string
		spec          tlsconfig.Spec
		objs          []client.Object
		failGet       bool
		wantPEM       []byte
		wantErr       string
		wantTransient bool
	}{
		{name: "system roots"},
		{name: "inline", spec: tlsconfig.Spec{CertificateAuthorityData: ca.Base64()}, wantPEM: ca.PEM()},
		{name: "inline bundle of two", spec: tlsconfig.Spec{CertificateAuthorityData: base64.StdEncoding.EncodeToString(twoCAs)}, wantPEM: twoCAs},
		{name: "inline not base64", spec: tlsconfig.Spec{CertificateAuthorityData: "%%"}, wantErr: "spec.tls.certificateAuthorityData is not valid base64"},
		{
			name:    "inline private key",
			spec:    tlsconfig.Spec{CertificateAuthorityData: base64.StdEncoding.EncodeToString([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))},
			wantErr: `unexpected PEM block "PRIVATE KEY"`,
		},
		{
			name:    "inline corrupt certificate",
			spec:    tlsconfig.Spec{CertificateAuthorityData: base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))},
			wantErr: "certificate 1",
		},
		{name: "both", spec: tlsconfig.Spec{CertificateAuthorityData: ca.Base64(), Source: src("Secret")}, wantErr: "mutually exclusive"},
		{name: "opaque secret", spec: tlsconfig.Spec{Source: src("Secret")}, objs: []client.Object{secret(corev1.SecretTypeOpaque, map[string][]byte{"ca.crt": ca.PEM()})}, wantPEM: ca.PEM()},
		{name: "tls secret", spec: tlsconfig.Spec{Source: src("Secret")}, objs: []client.Object{secret(corev1.SecretTypeTLS, map[string][]byte{"ca.crt": ca.PEM()})}, wantPEM: ca.PEM()},
		{name: "secret of another type", spec: tlsconfig.Spec{Source: src("Secret")}, objs: []client.Object{secret(corev1.SecretTypeBasicAuth, map[string][]byte{"ca.crt": ca.PEM()})}, wantErr: "has type"},
		{name: "secret with an empty value", spec: tlsconfig.Spec{Source: src("Secret")}, objs: []client.Object{secret(corev1.SecretTypeOpaque, map[string][]byte{"ca.crt": nil})}, wantErr: "no PEM certificates found"},
		{name: "secret missing", spec: tlsconfig.Spec{Source: src("Secret")}, wantErr: "not found"},
		{name: "secret unreadable", spec: tlsconfig.Spec{Source: src("Secret")}, failGet: true, wantErr: "api down", wantTransient: true},
		{
			name: "configmap", spec: tlsconfig.Spec{Source: src("ConfigMap")},
			objs:    []client.Object{&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ca"}, Data: map[string]string{"ca.crt": string(ca.PEM())}}},
			wantPEM: ca.PEM(),
		},
		{name: "unknown kind", spec: tlsconfig.Spec{Source: src("Service")}, wantErr: `kind "Service"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var funcs *interceptor.Funcs
			if tc.failGet {
				funcs = &interceptor.Funcs{Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
					return errors.New("api down")
				}}
			}
			b, err := tlsconfig.Load(context.Background(), newClient(t, funcs, tc.objs...), ns, "spec.tls", tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load error = %v, want one containing %q", err, tc.wantErr)
				}
				if got := tlsconfig.IsTransient(err); got != tc.wantTransient {
					t.Errorf("IsTransient = %v, want %v", got, tc.wantTransient)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if string(b.PEM()) != string(tc.wantPEM) {
				t.Errorf("PEM = %q, want %q", b.PEM(), tc.wantPEM)
			}
			if (b.CertPool() == nil) != (tc.wantPEM == nil) {
				t.Errorf("CertPool nil = %v, want %v", b.CertPool() == nil, tc.wantPEM == nil)
			}
		})
	}
}

// TestHTTPClientTrust checks that a client trusts exactly its bundle.
func TestHTTPClientTrust(t *testing.T) {
	t.Parallel()
	ca := testtls.NewCA(t)
	srv := ca.NewServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, tc := range []struct {
		name   string
		pem    []byte
		wantOK bool
	}{
		{name: "server CA", pem: ca.PEM(), wantOK: true},
		{name: "other CA", pem: testtls.NewCA(t).PEM()},
	} {
		b, err := tlsconfig.Load(context.Background(), nil, ns, "spec.tls",
			tlsconfig.Spec{CertificateAuthorityData: base64.StdEncoding.EncodeToString(tc.pem)})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := b.HTTPClient(5 * time.Second).Get(srv.URL)
		if err == nil {
			_ = resp.Body.Close()
		}
		if (err == nil) != tc.wantOK {
			t.Errorf("%s: GET error = %v, want success %v", tc.name, err, tc.wantOK)
		}
	}
}

func TestRefers(t *testing.T) {
	t.Parallel()
	spec := tlsconfig.FromConcierge(&authenticationv1alpha1.TLSSpec{
		CertificateAuthorityDataSource: &authenticationv1alpha1.CertificateAuthorityDataSourceSpec{Kind: "Secret", Name: "ca", Key: "k"},
	})
	meta := func(namespace, name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: namespace, Name: name}
	}
	tests := []struct {
		name string
		spec tlsconfig.Spec
		obj  client.Object
		want bool
	}{
		{name: "named secret", spec: spec, obj: &corev1.Secret{ObjectMeta: meta(ns, "ca")}, want: true},
		{name: "configmap of the same name", spec: spec, obj: &corev1.ConfigMap{ObjectMeta: meta(ns, "ca")}},
		{name: "other namespace", spec: spec, obj: &corev1.Secret{ObjectMeta: meta("default", "ca")}},
		{name: "other name", spec: spec, obj: &corev1.Secret{ObjectMeta: meta(ns, "other")}},
		{name: "no source", spec: tlsconfig.FromConcierge(nil), obj: &corev1.Secret{ObjectMeta: meta(ns, "ca")}},
	}
	for _, tc := range tests {
		if got := tc.spec.Refers(tc.obj, ns); got != tc.want {
			t.Errorf("%s: Refers = %v, want %v", tc.name, got, tc.want)
		}
	}
}
