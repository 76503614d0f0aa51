// SPDX-License-Identifier: Apache-2.0

package credentialissuer

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	conciergeclient "github.com/selkie-dev/selkie/generated/client/concierge/clientset/versioned"
	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
)

// Reporter reports the current state of one issuing strategy.
type Reporter interface {
	Strategy(ctx context.Context) configv1alpha1.CredentialIssuerStrategy
}

// Writer writes the CredentialIssuer named Name.
type Writer struct {
	Client conciergeclient.Interface
	Name   string
	// Spec, when set, is the install's configured spec: the CredentialIssuer is
	// created with it, and updated to it whenever it differs from the spec last
	// applied (SpecHashAnnotation). When nil the object is created with DefaultSpec
	// and its spec is never touched.
	Spec      *configv1alpha1.CredentialIssuerSpec
	Reporters []Reporter
	Clock     func() time.Time
	Log       *slog.Logger
	// Changed, when set, makes Run sync at once when it receives: a strategy whose state
	// changed (a signing key that appeared) is reported without waiting for the period.
	Changed <-chan struct{}
}

// Run syncs every period, and on Changed, until ctx ends.
func (w *Writer) Run(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		if err := w.Sync(ctx); err != nil {
			w.Log.ErrorContext(ctx, "could not update the CredentialIssuer", "name", w.Name, "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.Changed:
		}
	}
}

// Sync creates the CredentialIssuer if needed and writes the strategies' state.
func (w *Writer) Sync(ctx context.Context) error {
	var strategies []configv1alpha1.CredentialIssuerStrategy
	for _, r := range w.Reporters {
		strategies = append(strategies, r.Strategy(ctx))
	}
	Sort(strategies)
	client := w.Client.ConfigV1alpha1().CredentialIssuers()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ci, err := client.Get(ctx, w.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			ci, err = client.Create(ctx, w.newObject(), metav1.CreateOptions{})
		}
		if err != nil {
			return fmt.Errorf("get or create CredentialIssuer %s: %w", w.Name, err)
		}
		if w.Spec != nil && ci.Annotations[SpecHashAnnotation] != specHash(*w.Spec) {
			before := specHash(ci.Spec)
			ci.Spec = *w.Spec.DeepCopy()
			if ci.Annotations == nil {
				ci.Annotations = map[string]string{}
			}
			ci.Annotations[SpecHashAnnotation] = specHash(*w.Spec)
			if ci, err = client.Update(ctx, ci, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("apply the configured spec to CredentialIssuer %s: %w", w.Name, err)
			}
			w.Log.InfoContext(ctx, "applied the configured spec to the CredentialIssuer", "name", w.Name,
				"previousSpecSHA256", before, "specSHA256", specHash(ci.Spec))
		}
		next := w.stamp(ci.Status.Strategies, strategies)
		if reflect.DeepEqual(next, ci.Status.Strategies) {
			return nil
		}
		ci.Status.Strategies = next
		_, err = client.UpdateStatus(ctx, ci, metav1.UpdateOptions{})
		return err
	})
}

// newObject is the CredentialIssuer to create when none exists.
func (w *Writer) newObject() *configv1alpha1.CredentialIssuer {
	ci := &configv1alpha1.CredentialIssuer{ObjectMeta: metav1.ObjectMeta{Name: w.Name}, Spec: DefaultSpec()}
	if w.Spec != nil {
		ci.Spec = *w.Spec.DeepCopy()
		ci.Annotations = map[string]string{SpecHashAnnotation: specHash(*w.Spec)}
	}
	return ci
}

// stamp sets lastUpdateTime: kept from old for strategies whose state is unchanged,
// now for the others.
func (w *Writer) stamp(old, current []configv1alpha1.CredentialIssuerStrategy) []configv1alpha1.CredentialIssuerStrategy {
	now := metav1.NewTime(w.Clock().UTC().Truncate(time.Second))
	out := make([]configv1alpha1.CredentialIssuerStrategy, len(current))
	for i, s := range current {
		s.LastUpdateTime = now
		for _, o := range old {
			prev := o
			prev.LastUpdateTime = metav1.Time{}
			if reflect.DeepEqual(prev, withoutTime(s)) {
				s.LastUpdateTime = o.LastUpdateTime
			}
		}
		out[i] = s
	}
	return out
}

func withoutTime(s configv1alpha1.CredentialIssuerStrategy) configv1alpha1.CredentialIssuerStrategy {
	s.LastUpdateTime = metav1.Time{}
	return s
}

// Sort orders strategies as the contract requires: KubeClusterSigningCertificate, then
// Selkie's KubeCSRSigningCertificate, then ImpersonationProxy, then others by name.
func Sort(s []configv1alpha1.CredentialIssuerStrategy) {
	rank := func(t configv1alpha1.StrategyType) int {
		switch t {
		case configv1alpha1.KubeClusterSigningCertificateStrategyType:
			return 0
		case configv1alpha1.KubeCSRSigningCertificateStrategyType:
			return 1
		case configv1alpha1.ImpersonationProxyStrategyType:
			return 2
		default:
			return 3
		}
	}
	slices.SortStableFunc(s, func(a, b configv1alpha1.CredentialIssuerStrategy) int {
		if ra, rb := rank(a.Type), rank(b.Type); ra != rb {
			return ra - rb
		}
		return strings.Compare(string(a.Type), string(b.Type))
	})
}
