// SPDX-License-Identifier: Apache-2.0

package sessionstore_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore/conformance"
)

type secretFixture struct {
	store   sessionstore.Store
	secrets corev1client.SecretInterface
	keyring *sessionstore.Keyring
	logs    *bytes.Buffer
}

func newSecretFixture(t *testing.T) secretFixture {
	t.Helper()
	secrets := newStrictClientset().CoreV1().Secrets(testNamespace)
	keyring, err := sessionstore.LoadKeyring(t.Context(), secrets, "selkie-session-keys", nil)
	if err != nil {
		t.Fatalf("LoadKeyring: %v", err)
	}
	logs := &bytes.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	return secretFixture{
		store:   sessionstore.NewSecretStore(secrets, keyring, sessionstore.WithLogger(logger)),
		secrets: secrets,
		keyring: keyring,
		logs:    logs,
	}
}

func (f secretFixture) secret(t *testing.T, id string) *corev1.Secret {
	t.Helper()
	secret, err := f.secrets.Get(t.Context(), "selkie-session-"+id, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get secret of %s: %v", id, err)
	}
	return secret
}

func (f secretFixture) put(t *testing.T, secret *corev1.Secret) {
	t.Helper()
	if _, err := f.secrets.Update(t.Context(), secret, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update secret %s: %v", secret.Name, err)
	}
}

func TestSecretStore(t *testing.T) {
	t.Parallel()
	conformance.RunTests(t, func(t *testing.T) sessionstore.Store { return newSecretFixture(t).store })
}

func hash32(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:32]
}

func TestSecretStoreLayout(t *testing.T) {
	t.Parallel()
	f := newSecretFixture(t)
	s := conformance.FullSession(conformance.ID("layout"))
	if err := f.store.Create(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	secret := f.secret(t, s.ID)
	if secret.Type != "storage.selkie.dev/session" {
		t.Errorf("type = %q", secret.Type)
	}
	wantLabels := map[string]string{
		"storage.selkie.dev/type":     "session",
		"storage.selkie.dev/issuer":   hash32(s.Issuer),
		"storage.selkie.dev/username": hash32(s.Username),
	}
	if diff := cmp.Diff(wantLabels, secret.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	wantAnnotations := map[string]string{"storage.selkie.dev/expires": s.Expires.UTC().Format(time.RFC3339Nano)}
	if diff := cmp.Diff(wantAnnotations, secret.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	if v := string(secret.Data["version"]); v != "1" {
		t.Errorf("data version = %q", v)
	}
	var stored map[string]any
	if err := json.Unmarshal(secret.Data["session"], &stored); err != nil {
		t.Fatalf("data session is not JSON: %v", err)
	}
	if _, ok := stored["sealedUpstreamData"]; !ok {
		t.Errorf("data session has no sealedUpstreamData: keys %v", stored)
	}
	device, _ := stored["deviceGrant"].(map[string]any)
	for _, key := range []string{"status", "codeHash", "expires", "interval", "lastPoll"} {
		if _, ok := device[key]; !ok {
			t.Errorf("data session deviceGrant has no %s: %v", key, device)
		}
	}
	if device["interval"] != "7.25s" {
		t.Errorf("deviceGrant interval = %v, want the duration string 7.25s", device["interval"])
	}
	if got := secret.ResourceVersion; got != s.ResourceVersion {
		t.Errorf("ResourceVersion = %q, secret has %q", s.ResourceVersion, got)
	}
}

// leaks reports whether haystack contains marker, or a base64, base64url or hex
// encoding of it (at each of the three base64 alignments).
func leaks(haystack, marker []byte) bool {
	if bytes.Contains(haystack, marker) || bytes.Contains(bytes.ToLower(haystack), []byte(hex.EncodeToString(marker))) {
		return true
	}
	for offset := range 3 {
		// Drop the characters whose encoding depends on what precedes or follows.
		aligned := marker[offset:]
		aligned = aligned[:len(aligned)/3*3]
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			if bytes.Contains(haystack, []byte(enc.EncodeToString(aligned))) {
				return true
			}
		}
	}
	return false
}

func TestSecretStoreNeverStoresUpstreamDataInClear(t *testing.T) {
	t.Parallel()
	f := newSecretFixture(t)
	marker := []byte("UPSTREAM-REFRESH-TOKEN-MARKER-7f3a9c")
	s := conformance.FullSession(conformance.ID("marker"))
	s.UpstreamData = append([]byte(`{"refresh_token":"`), append(marker, `"}`...)...)
	if err := f.store.Create(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	s.UpstreamData = append([]byte("updated "), marker...)
	if err := f.store.Update(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	got, err := f.store.Get(t.Context(), s.ID)
	if err != nil || !bytes.Contains(got.UpstreamData, marker) {
		t.Fatalf("Get = %q, %v; want the marker back", got.UpstreamData, err)
	}

	all, err := f.secrets.List(t.Context(), metav1.ListOptions{})
	if err != nil || len(all.Items) != 2 { // the session and the keyring
		t.Fatalf("list secrets = %d, %v", len(all.Items), err)
	}
	for _, secret := range all.Items {
		var fields [][]byte
		for k, v := range secret.Data {
			fields = append(fields, []byte(k), v)
		}
		for k, v := range secret.Labels {
			fields = append(fields, []byte(k), []byte(v))
		}
		for k, v := range secret.Annotations {
			fields = append(fields, []byte(k), []byte(v))
		}
		whole, err := json.Marshal(secret)
		if err != nil {
			t.Fatal(err)
		}
		for _, field := range append(fields, whole) {
			if leaks(field, marker) {
				t.Errorf("secret %s contains the upstream data in the clear: %q", secret.Name, field)
			}
		}
	}
	if !leaks([]byte(base64.StdEncoding.EncodeToString(append([]byte("xy"), marker...))), marker) {
		t.Error("leaks misses a base64 encoding at an odd offset")
	}
}

func TestSecretStoreUsernameLabelIsHashed(t *testing.T) {
	t.Parallel()
	f := newSecretFixture(t)
	s := conformance.FullSession(conformance.ID("pii"))
	if err := f.store.Create(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	secret := f.secret(t, s.ID)
	for k, v := range secret.Labels {
		if strings.Contains(k+v, "alice") {
			t.Errorf("label %s=%s contains the username", k, v)
		}
	}
	for k, v := range secret.Annotations {
		if strings.Contains(k+v, "alice") {
			t.Errorf("annotation %s=%s contains the username", k, v)
		}
	}
}

func TestSecretStoreOpensAfterRotation(t *testing.T) {
	t.Parallel()
	f := newSecretFixture(t)
	before := conformance.FullSession(conformance.ID("before"))
	if err := f.store.Create(t.Context(), before); err != nil {
		t.Fatal(err)
	}
	if _, err := sessionstore.RotateKeyring(t.Context(), f.secrets, "selkie-session-keys", nil); err != nil {
		t.Fatalf("RotateKeyring: %v", err)
	}
	if err := f.keyring.Reload(t.Context()); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	after := conformance.FullSession(conformance.ID("after"))
	if err := f.store.Create(t.Context(), after); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{before.ID, after.ID} {
		got, err := f.store.Get(t.Context(), id)
		if err != nil {
			t.Fatalf("Get(%s) after rotation: %v", id, err)
		}
		if diff := conformance.Diff(conformance.FullSession(id), got); diff != "" {
			t.Errorf("Get(%s) (-want +got):\n%s", id, diff)
		}
	}
}

func TestSecretStoreRejectsUnencodableClaims(t *testing.T) {
	t.Parallel()
	f := newSecretFixture(t)
	s := conformance.FullSession(conformance.ID("claims"))
	s.AdditionalClaims["bad"] = func() {}
	if err := f.store.Create(t.Context(), s); err == nil || errors.Is(err, sessionstore.ErrAlreadyExists) {
		t.Fatalf("Create = %v, want an encoding error", err)
	}
}
