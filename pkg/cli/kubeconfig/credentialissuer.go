// SPDX-License-Identifier: Apache-2.0

package kubeconfig

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/apis/suffix"
)

// discoverer reads the concierge's objects with the admin credentials, in the API
// groups of the install's suffix.
type discoverer struct {
	client   dynamic.Interface
	suffix   string
	log      *slog.Logger
	interval time.Duration
}

// resource is the GroupVersionResource of a concierge resource under d's suffix.
func (d *discoverer) resource(baseGroup, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: suffix.Group(baseGroup, d.suffix), Version: "v1alpha1", Resource: resource}
}

// errNoCredentialIssuer marks a CredentialIssuer API without the CredentialIssuer: the
// concierge creates it once it runs, so right after an install it may not exist yet.
var errNoCredentialIssuer = errors.New("no CredentialIssuer was found")

// credentialIssuer returns the named or only CredentialIssuer; with wait, it re-reads it
// every interval while it does not exist yet or a strategy is Pending (transient by
// docs/wire-contract.md §4.4).
func (d *discoverer) credentialIssuer(ctx context.Context, name string, wait bool) (*configv1alpha1.CredentialIssuer, error) {
	ci, err := d.lookupCredentialIssuer(ctx, name)
	for attempt := 1; wait && (errors.Is(err, errNoCredentialIssuer) || err == nil && pending(ci)); attempt++ {
		if err != nil {
			d.log.Info("waiting for the concierge to create its CredentialIssuer", "attempt", attempt)
		} else {
			logStrategies(d.log, ci)
			d.log.Info("waiting for pending CredentialIssuer strategies", "name", ci.Name, "attempt", attempt)
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return nil, fmt.Errorf("%w (waited until --timeout; or use --concierge-skip-wait)", err)
			}
			return nil, fmt.Errorf("CredentialIssuer %q still has Pending strategies (%s) at --timeout (or use --concierge-skip-wait): %w",
				ci.Name, describeStrategies(ci), ctx.Err())
		case <-time.After(d.interval):
		}
		ci, err = d.lookupCredentialIssuer(ctx, name)
	}
	return ci, err
}

//nolint:nestif // the three outcomes of a named lookup (found, still starting, missing) read best together.
func (d *discoverer) lookupCredentialIssuer(ctx context.Context, name string) (*configv1alpha1.CredentialIssuer, error) {
	res := d.client.Resource(d.resource(configv1alpha1.GroupName, "credentialissuers"))
	var u *unstructured.Unstructured
	if name != "" {
		got, err := res.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && d.noCredentialIssuers(ctx) { // a concierge still starting, not a typo
			return nil, fmt.Errorf("%w: CredentialIssuer %q does not exist yet", errNoCredentialIssuer, name)
		}
		if err != nil {
			return nil, fmt.Errorf("could not get CredentialIssuer %q (is the concierge installed with --concierge-api-group-suffix %q?): %w", name, d.suffix, err)
		}
		u = got
	} else {
		list, err := res.List(ctx, metav1.ListOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("no CredentialIssuer API in the cluster: is the concierge installed with --concierge-api-group-suffix %q? (or use --no-concierge): %w", d.suffix, err)
			}
			return nil, fmt.Errorf("could not list CredentialIssuers: %w", err)
		}
		switch len(list.Items) {
		case 0:
			return nil, fmt.Errorf("%w: is the concierge running with --concierge-api-group-suffix %q? (or use --no-concierge)", errNoCredentialIssuer, d.suffix)
		case 1:
			u = &list.Items[0]
		default:
			return nil, fmt.Errorf("several CredentialIssuers were found (%s): choose one with --concierge-credential-issuer", strings.Join(names(list.Items), ", "))
		}
	}
	var ci configv1alpha1.CredentialIssuer
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &ci); err != nil {
		return nil, fmt.Errorf("could not decode CredentialIssuer %q: %w", u.GetName(), err)
	}
	d.log.Info("discovered CredentialIssuer", "name", ci.Name)
	return &ci, nil
}

// noCredentialIssuers reports whether the cluster serves CredentialIssuers of the
// suffix (the concierge's CRDs are installed) but holds none.
func (d *discoverer) noCredentialIssuers(ctx context.Context) bool {
	list, err := d.client.Resource(d.resource(configv1alpha1.GroupName, "credentialissuers")).List(ctx, metav1.ListOptions{Limit: 1})
	return err == nil && len(list.Items) == 0
}

func pending(ci *configv1alpha1.CredentialIssuer) bool {
	for _, s := range ci.Status.Strategies {
		if s.Reason == configv1alpha1.PendingStrategyReason {
			return true
		}
	}
	return false
}

// selectFrontend takes the first strategy in status order that succeeded and has a
// known frontend type matching mode (any when empty).
func selectFrontend(ci *configv1alpha1.CredentialIssuer, mode string) (*configv1alpha1.CredentialIssuerFrontend, error) {
	for _, s := range ci.Status.Strategies {
		if s.Status != configv1alpha1.SuccessStrategyStatus || s.Frontend == nil {
			continue
		}
		fe := s.Frontend
		switch {
		case fe.Type == configv1alpha1.TokenCredentialRequestAPIFrontendType:
		case fe.Type == configv1alpha1.ImpersonationProxyFrontendType && fe.ImpersonationProxyInfo != nil:
		default:
			continue
		}
		if mode != "" && string(fe.Type) != mode {
			continue
		}
		return fe, nil
	}
	if mode == "" {
		return nil, fmt.Errorf("could not autodiscover --concierge-mode: CredentialIssuer %q has no successful strategy with a known frontend (%s)",
			ci.Name, describeStrategies(ci))
	}
	return nil, fmt.Errorf("CredentialIssuer %q has no successful strategy matching --concierge-mode=%s (%s)", ci.Name, mode, describeStrategies(ci))
}

func describeStrategies(ci *configv1alpha1.CredentialIssuer) string {
	if len(ci.Status.Strategies) == 0 {
		return "no strategies reported"
	}
	var parts []string
	for _, s := range ci.Status.Strategies {
		fe := "no frontend"
		if s.Frontend != nil {
			fe = "frontend " + string(s.Frontend.Type)
		}
		parts = append(parts, fmt.Sprintf("%s: %s/%s, %s: %q", s.Type, s.Status, s.Reason, fe, s.Message))
	}
	return strings.Join(parts, "; ")
}

func logStrategies(log *slog.Logger, ci *configv1alpha1.CredentialIssuer) {
	for _, s := range ci.Status.Strategies {
		log.Info("found CredentialIssuer strategy", "type", s.Type, "status", s.Status, "reason", s.Reason, "message", s.Message)
	}
}

func names(items []unstructured.Unstructured) []string {
	out := make([]string, 0, len(items))
	for i := range items {
		out = append(out, items[i].GetName())
	}
	return out
}

// countCerts counts the certificates of a PEM bundle.
func countCerts(pemData []byte) int {
	n := 0
	for rest := pemData; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			return n
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err == nil {
			n++
		}
	}
}
