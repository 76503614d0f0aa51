// SPDX-License-Identifier: Apache-2.0

package signingkey

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	ktesting "k8s.io/client-go/testing"

	"github.com/selkie-dev/selkie/pkg/certauthority"
)

func newCAFiles(t *testing.T) (Files, []byte, []byte) {
	t.Helper()
	ca, err := certauthority.New("cluster-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.PEM()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := Files{CertFile: filepath.Join(dir, "ca.crt"), KeyFile: filepath.Join(dir, "ca.key")}
	if err := os.WriteFile(f.CertFile, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.KeyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	return f, cert, key
}

func TestIssuerFromFiles(t *testing.T) {
	t.Parallel()
	files, _, _ := newCAFiles(t)
	iss, err := New(files, certauthority.DefaultTTL, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.IssueClientCert(context.Background(), "u", nil); !errors.Is(err, ErrNoKey) {
		t.Errorf("before Refresh: %v, want ErrNoKey", err)
	}
	if err := iss.Refresh(context.Background()); err != nil || iss.Status() != nil {
		t.Fatalf("Refresh: %v, Status: %v", err, iss.Status())
	}
	kp, err := iss.IssueClientCert(context.Background(), "pinny", []string{"seals"})
	if err != nil || !strings.Contains(string(kp.CertPEM), "BEGIN CERTIFICATE") {
		t.Fatalf("issue: %v", err)
	}
	if got := time.Until(kp.NotAfter); got > certauthority.DefaultTTL || got < certauthority.DefaultTTL-time.Minute {
		t.Errorf("certificate lives %s, want %s", got, certauthority.DefaultTTL)
	}

	// A key that disappears stops issuing, with the reason in Status.
	if err := os.Remove(files.KeyFile); err != nil {
		t.Fatal(err)
	}
	if err := iss.Refresh(context.Background()); err == nil || iss.Status() == nil {
		t.Fatal("Refresh of a missing key succeeded")
	}
	if _, err := iss.IssueClientCert(context.Background(), "pinny", nil); err == nil || !strings.Contains(err.Error(), files.KeyFile) {
		t.Errorf("issue without key: %v, want the load error naming the file", err)
	}
}

func TestIssuerFromSecret(t *testing.T) {
	t.Parallel()
	_, cert, key := newCAFiles(t)
	client := fake.NewClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "selkie-concierge", Name: "signer"},
		Data:       map[string][]byte{corev1.TLSCertKey: cert, corev1.TLSPrivateKeyKey: key},
	}, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "selkie-concierge", Name: "empty"}})
	for name, wantErr := range map[string]string{"signer": "", "empty": "lacks tls.crt or tls.key", "missing": "not found"} {
		iss, err := New(Secret{Client: client, Namespace: "selkie-concierge", Name: name}, certauthority.DefaultTTL, nil, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		err = iss.Refresh(context.Background())
		if (wantErr == "" && err != nil) || (wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr))) {
			t.Errorf("Secret %s: Refresh = %v, want %q", name, err, wantErr)
		}
	}
}

func TestNewRejectsTTL(t *testing.T) {
	t.Parallel()
	if _, err := New(Files{}, time.Minute, nil, nil); !errors.Is(err, certauthority.ErrTTLOutOfRange) {
		t.Errorf("New with 1m TTL: %v", err)
	}
}

// TestTransientReadErrorsKeepTheKey checks that a Secret read that fails for a moment
// (the API server restarting, a timeout) keeps the loaded key, while an answer that says
// the key is gone drops it at once.
func TestTransientReadErrorsKeepTheKey(t *testing.T) {
	t.Parallel()
	_, cert, key := newCAFiles(t)
	client := fake.NewClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "signer"},
		Data:       map[string][]byte{corev1.TLSCertKey: cert, corev1.TLSPrivateKeyKey: key},
	})
	var readErr error
	client.PrependReactor("get", "secrets", func(ktesting.Action) (bool, runtime.Object, error) {
		return readErr != nil, nil, readErr
	})
	now := time.Now()
	iss, err := New(Secret{Client: client, Namespace: "ns", Name: "signer"}, certauthority.DefaultTTL,
		func() time.Time { return now }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	gr := schema.GroupResource{Resource: "secrets"}
	start := now
	for _, step := range []struct {
		name    string
		after   time.Duration
		readErr error
		wantKey bool
	}{
		{"loaded", 0, nil, true},
		{"API server unavailable", time.Minute, apierrors.NewServiceUnavailable("restarting"), true},
		{"timeout", 2 * time.Minute, apierrors.NewTimeoutError("slow", 1), true},
		{"connection refused", 3 * time.Minute, errors.New("dial tcp 127.0.0.1:6443: connect: connection refused"), true},
		{"unreadable for longer than the grace period", 3*time.Minute + KeepKeyOnReadErrors, errors.New("connection refused"), false},
		{"readable again", 20 * time.Minute, nil, true},
		{"Secret deleted", 21 * time.Minute, apierrors.NewNotFound(gr, "signer"), false},
		{"restored", 22 * time.Minute, nil, true},
		{"access revoked", 23 * time.Minute, apierrors.NewForbidden(gr, "signer", errors.New("RBAC")), false},
	} {
		now, readErr = start.Add(step.after), step.readErr
		_ = iss.Refresh(context.Background())
		_, issueErr := iss.IssueClientCert(context.Background(), "pinny", nil)
		if gotKey := iss.Status() == nil && issueErr == nil; gotKey != step.wantKey {
			t.Errorf("%s: has a key %t (status %v, issue %v), want %t", step.name, gotKey, iss.Status(), issueErr, step.wantKey)
		}
	}
}

// memorySource is a Source whose key the test sets.
type memorySource struct {
	mu              sync.Mutex
	certPEM, keyPEM []byte
}

func (m *memorySource) Load(context.Context) ([]byte, []byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.certPEM == nil {
		return nil, nil, fmt.Errorf("%w: not there yet", ErrKeyGone)
	}
	return m.certPEM, m.keyPEM, nil
}

func (m *memorySource) String() string { return "memory" }

// TestRunPicksUpAMissingKeySoon: while no key is loaded, Run reads again every
// MissingRetry rather than once a period, so a Secret created after the install is used
// within seconds. Fake time (testing/synctest) stands in for the waits.
func TestRunPicksUpAMissingKeySoon(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ca, err := certauthority.New("cluster-ca", time.Hour) // valid in the bubble's time
		if err != nil {
			t.Fatal(err)
		}
		certPEM, keyPEM, err := ca.PEM()
		if err != nil {
			t.Fatal(err)
		}
		src := &memorySource{}
		iss, err := New(src, certauthority.DefaultTTL, nil, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if err := iss.Refresh(t.Context()); err == nil {
			t.Fatal("a missing key loaded")
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go iss.Run(ctx, time.Hour)
		src.mu.Lock()
		src.certPEM, src.keyPEM = certPEM, keyPEM
		src.mu.Unlock()
		time.Sleep(MissingRetry + time.Second)
		synctest.Wait()
		if err := iss.Status(); err != nil {
			t.Errorf("%s after the key appeared, with an hour's period: %v", MissingRetry+time.Second, err)
		}
	})
}
