// SPDX-License-Identifier: Apache-2.0

package aggregatedapi

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	aggregatorinformers "k8s.io/kube-aggregator/pkg/client/informers/externalversions"

	"github.com/selkie-dev/selkie/pkg/certauthority"
	"github.com/selkie-dev/selkie/pkg/internal/casecret"
)

// Serving certificate lifetimes: the CA is replaced a month before it expires and stays
// in the caBundle until then; the leaf is replaced when a third of its life is left.
const (
	servingCALifetime   = 365 * 24 * time.Hour
	servingCARenewal    = 30 * 24 * time.Hour
	servingLeafLifetime = 90 * 24 * time.Hour
)

// Keys of the serving certificate Secret.
const (
	keyCACert   = "ca.crt"
	keyCAKey    = "ca.key"
	keyCABundle = "ca-bundle.crt" // current CA, then the previous one until it expires
	keyTLSCert  = corev1.TLSCertKey
	keyTLSKey   = corev1.TLSPrivateKeyKey
)

// servingCerts keeps the API server's serving certificate in a Secret shared by all
// replicas, writes it to files the server reloads, and keeps the APIServices' caBundle
// in step with it.
type servingCerts struct {
	kube        kubernetes.Interface
	aggregator  aggregator.Interface
	caName      string // common name of the serving CA
	namespace   string
	serviceName string
	secretName  string
	hosts       []string
	apiServices []string
	dir         string
	clock       func() time.Time
	log         *slog.Logger

	mu      sync.Mutex
	bundle  []byte // the caBundle the APIServices should carry
	serving bool   // caBundles are written only once the server answers, see startServing
}

func (s *servingCerts) certFile() string { return filepath.Join(s.dir, keyTLSCert) }
func (s *servingCerts) keyFile() string  { return filepath.Join(s.dir, keyTLSKey) }

// run re-checks the certificate every period until ctx ends.
func (s *servingCerts) run(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.ensure(ctx); err != nil {
				s.log.ErrorContext(ctx, "could not maintain the serving certificate", "error", err)
			}
		}
	}
}

// ensure renews what needs renewing, then syncs files and caBundles. Replicas starting
// together race to create or renew the Secret; the loser re-reads and uses the winner's.
func (s *servingCerts) ensure(ctx context.Context) error {
	data, wrote, err := casecret.Update(ctx, s.kube.CoreV1().Secrets(s.namespace), s.secretName, corev1.SecretTypeOpaque, s.renew)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	if wrote {
		s.log.InfoContext(ctx, "serving certificate renewed", "namespace", s.namespace, "name", s.secretName)
	}
	if err := s.writeFiles(data); err != nil {
		return err
	}
	s.mu.Lock()
	s.bundle = data[keyCABundle]
	s.mu.Unlock()
	return s.syncCABundles(ctx)
}

// startServing is called once the API server listens. Writing the caBundle before then
// would make the aggregator probe a port nobody answers on and back off for a minute.
func (s *servingCerts) startServing(ctx context.Context) error {
	s.mu.Lock()
	s.serving = true
	s.mu.Unlock()
	return errors.Join(s.syncCABundles(ctx), s.watchAPIServices(ctx))
}

// watchAPIServices re-syncs the caBundle as soon as one of the server's APIServices
// is created or changed (an install applied after the server started, or someone
// overwrote the bundle), instead of waiting for the next periodic check.
func (s *servingCerts) watchAPIServices(ctx context.Context) error {
	factory := aggregatorinformers.NewSharedInformerFactory(s.aggregator, 10*time.Minute)
	inf := factory.Apiregistration().V1().APIServices().Informer()
	onChange := func(obj any) {
		if svc, ok := obj.(*apiregistrationv1.APIService); ok && slices.Contains(s.apiServices, svc.Name) {
			if err := s.syncCABundles(ctx); err != nil {
				s.log.ErrorContext(ctx, "could not update APIService caBundle", "error", err)
			}
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onChange, UpdateFunc: func(_, obj any) { onChange(obj) },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	return nil
}

// renew returns the Secret data with a valid CA and leaf, and whether it changed.
func (s *servingCerts) renew(old map[string][]byte) (map[string][]byte, bool, error) {
	now := s.clock()
	data := maps.Clone(old)
	if data == nil {
		data = map[string][]byte{}
	}
	changed := false
	policy := casecret.Policy{CommonName: s.caName, Lifetime: servingCALifetime, RenewBefore: servingCARenewal, Clock: s.clock}
	rot, err := policy.Renew(data[keyCACert], data[keyCAKey])
	if err != nil {
		return nil, false, err
	}
	if rot.Renewed {
		caPEM, keyPEM, err := rot.CA.PEM()
		if err != nil {
			return nil, false, err
		}
		// Keep the previous CA trusted while certificates it signed may still be served.
		bundle := append(append([]byte{}, caPEM...), stillValid(data[keyCACert], now)...)
		data[keyCACert], data[keyCAKey], data[keyCABundle] = caPEM, keyPEM, bundle
		delete(data, keyTLSCert)
		changed = true
	}
	if !s.leafValid(data[keyTLSCert], rot.CA, now) {
		certPEM, keyPEM, err := s.issueLeaf(rot.CA)
		if err != nil {
			return nil, false, err
		}
		data[keyTLSCert], data[keyTLSKey] = certPEM, keyPEM
		changed = true
	}
	return data, changed, nil
}

// leafValid reports whether certPEM is signed by ca, names every host, and has more
// than a third of its life left.
func (s *servingCerts) leafValid(certPEM []byte, ca *certauthority.CA, now time.Time) bool {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return false
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || now.After(cert.NotAfter.Add(-servingLeafLifetime/3)) {
		return false
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CertPEM())
	for _, h := range s.hosts {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: h, CurrentTime: now}); err != nil {
			return false
		}
	}
	return true
}

func (s *servingCerts) issueLeaf(ca *certauthority.CA) (certPEM, keyPEM []byte, err error) {
	kp, err := ca.IssueServingCert(s.hosts, servingLeafLifetime)
	if err != nil {
		return nil, nil, fmt.Errorf("serving certificate: %w", err)
	}
	return kp.CertPEM, kp.KeyPEM, nil
}

// writeFiles updates the files the server serves from, key first, each atomically.
func (s *servingCerts) writeFiles(data map[string][]byte) error {
	for _, f := range []struct {
		path string
		data []byte
	}{{s.keyFile(), data[keyTLSKey]}, {s.certFile(), data[keyTLSCert]}} {
		if cur, err := os.ReadFile(f.path); err == nil && bytes.Equal(cur, f.data) {
			continue
		}
		tmp := f.path + ".tmp"
		if err := os.WriteFile(tmp, f.data, 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, f.path); err != nil {
			return err
		}
	}
	return nil
}

// syncCABundles puts the current bundle into each of the server's APIServices that exists.
func (s *servingCerts) syncCABundles(ctx context.Context) error {
	s.mu.Lock()
	bundle, serving := s.bundle, s.serving
	s.mu.Unlock()
	if len(bundle) == 0 || !serving {
		return nil
	}
	for _, name := range s.apiServices {
		// The aggregator writes status to the same object, so conflicts are normal.
		updated := false
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			svc, err := s.aggregator.ApiregistrationV1().APIServices().Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) || (err == nil && bytes.Equal(svc.Spec.CABundle, bundle)) {
				return nil // not installed (yet), or already right
			}
			if err != nil {
				return err
			}
			if ref := svc.Spec.Service; ref == nil || ref.Namespace != s.namespace || ref.Name != s.serviceName {
				return nil // another install serves this group; not ours to touch
			}
			svc.Spec.CABundle = bundle
			_, err = s.aggregator.ApiregistrationV1().APIServices().Update(ctx, svc, metav1.UpdateOptions{})
			updated = err == nil
			return err
		})
		if err != nil {
			return fmt.Errorf("update caBundle of APIService %s: %w", name, err)
		}
		if updated {
			s.log.InfoContext(ctx, "APIService caBundle updated", "name", name)
		}
	}
	return nil
}

// stillValid returns the PEM certificates in bundle that have not expired at now.
func stillValid(bundle []byte, now time.Time) []byte {
	var out []byte
	for rest := bundle; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return out
		}
		if cert, err := x509.ParseCertificate(block.Bytes); err == nil && now.Before(cert.NotAfter) {
			out = append(out, pem.EncodeToMemory(block)...)
		}
	}
}
