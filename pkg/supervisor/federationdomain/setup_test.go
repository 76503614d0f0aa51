// SPDX-License-Identifier: Apache-2.0

package federationdomain

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/selkie-dev/selkie/pkg/supervisor/session"
)

func TestSessionSecretsDoNotTriggerReconciles(t *testing.T) {
	for typ, want := range map[corev1.SecretType]bool{
		session.SessionSecretType:  false,
		corev1.SecretTypeTLS:       true, // spec.tls.secretName
		corev1.SecretTypeOpaque:    true,
		session.KeyringSecretType:  true,
		"secrets.selkie.dev/jwks":  true, // any other Secret the domain may own
		corev1.SecretTypeDockercfg: true,
	} {
		if got := notSession(&corev1.Secret{Type: typ}); got != want {
			t.Errorf("Secret of type %q: reconcile %v, want %v", typ, got, want)
		}
	}
	if !notSession(&corev1.ConfigMap{}) {
		t.Error("a non-Secret object was filtered out")
	}
}
