// SPDX-License-Identifier: Apache-2.0

package sessionstore_test

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
)

// TestKeyringMalformedSecret breaks a valid keyring Secret in each way: loading,
// rotating and reloading all fail, nothing is written, and a running ring is kept.
func TestKeyringMalformedSecret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		mutate  func(s *corev1.Secret, active string)
		wantErr string
	}{
		{"wrong type", func(s *corev1.Secret, _ string) { s.Type = corev1.SecretTypeOpaque }, "type is"},
		{"no keyring.json", func(s *corev1.Secret, _ string) { delete(s.Data, "keyring.json") }, "no keyring.json"},
		{"keyring.json not JSON", func(s *corev1.Secret, _ string) { s.Data["keyring.json"] = []byte("{") }, "decode keyring.json"},
		{"unknown version", func(s *corev1.Secret, a string) { setMeta(s, 2, a) }, "unsupported keyring.json version 2"},
		{"no active key", func(s *corev1.Secret, _ string) { setMeta(s, 1, "") }, "no active key"},
		{"active key not in ring", func(s *corev1.Secret, _ string) { setMeta(s, 1, "0badc0de") }, `active key "0badc0de" is not in the ring`},
		{"key too short", func(s *corev1.Secret, a string) { s.Data["key-"+a] = s.Data["key-"+a][:16] }, "want 32 bytes, got 16"},
		{"key data missing", func(s *corev1.Secret, a string) { delete(s.Data, "key-"+a) }, "listed but no key-"},
		{"unlisted key", func(s *corev1.Secret, a string) { s.Data["key-feedbeef"] = s.Data["key-"+a] }, "key-feedbeef is not listed"},
		{"inactive key not retired", func(s *corev1.Secret, a string) {
			s.Data["key-feedbeef"] = s.Data["key-"+a]
			var meta map[string]any
			_ = json.Unmarshal(s.Data["keyring.json"], &meta)
			meta["keys"] = append(meta["keys"].([]any), map[string]any{"id": "feedbeef", "created": "2026-01-01T00:00:00Z"})
			s.Data["keyring.json"], _ = json.Marshal(meta)
		}, "key feedbeef is neither active nor retired"},
		{"active key retired", func(s *corev1.Secret, a string) {
			var meta map[string]any
			_ = json.Unmarshal(s.Data["keyring.json"], &meta)
			meta["keys"].([]any)[0].(map[string]any)["retired"] = "2026-01-01T00:00:00Z"
			s.Data["keyring.json"], _ = json.Marshal(meta)
		}, "is marked retired"},
		{"invalid key ID", func(s *corev1.Secret, a string) {
			var meta map[string]any
			_ = json.Unmarshal(s.Data["keyring.json"], &meta)
			meta["keys"].([]any)[0].(map[string]any)["id"] = "../x"
			s.Data["keyring.json"], _ = json.Marshal(meta)
		}, `invalid key ID "../x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			secrets := newStrictClientset().CoreV1().Secrets(testNamespace)
			replica, err := sessionstore.LoadKeyring(t.Context(), secrets, keyringName, nil)
			if err != nil {
				t.Fatal(err)
			}
			active := replica.ActiveKeyID()
			sealed := mustSeal(t, replica, "x")
			secret, _ := readKeyringSecret(t, secrets)
			tt.mutate(secret, active)
			if secret, err = secrets.Update(t.Context(), secret, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}

			_, loadErr := sessionstore.LoadKeyring(t.Context(), secrets, keyringName, nil)
			_, rotateErr := sessionstore.RotateKeyring(t.Context(), secrets, keyringName, nil)
			reloadErr := replica.Reload(t.Context())
			for op, err := range map[string]error{"LoadKeyring": loadErr, "RotateKeyring": rotateErr, "Reload": reloadErr} {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "malformed keyring secret") {
					t.Errorf("%s = %v, want an error mentioning %q", op, err, tt.wantErr)
				}
			}
			if after, _ := secrets.Get(t.Context(), keyringName, metav1.GetOptions{}); after.ResourceVersion != secret.ResourceVersion {
				t.Error("the malformed secret was written")
			}
			if replica.ActiveKeyID() != active || !canOpen(replica, sealed) {
				t.Error("a failed Reload changed the ring")
			}
		})
	}
}

func setMeta(s *corev1.Secret, version int, active string) {
	var meta map[string]any
	_ = json.Unmarshal(s.Data["keyring.json"], &meta)
	meta["version"], meta["active"] = version, active
	s.Data["keyring.json"], _ = json.Marshal(meta)
}
