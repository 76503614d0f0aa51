// SPDX-License-Identifier: Apache-2.0

package credentialissuer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
)

// SpecHashAnnotation records, on a CredentialIssuer the concierge created or updated
// from its configured spec, the sha256 of that spec. The concierge re-applies its
// configured spec only when this differs, so a hand edit of the object lasts until the
// install's configuration changes (a Helm upgrade with new values, for example).
const SpecHashAnnotation = "selkie.dev/credential-issuer-spec-sha256"

// DefaultSpec is the spec of a CredentialIssuer created without a configured one:
// the proxy in auto mode behind a LoadBalancer Service.
func DefaultSpec() configv1alpha1.CredentialIssuerSpec {
	return configv1alpha1.CredentialIssuerSpec{ImpersonationProxy: &configv1alpha1.ImpersonationProxySpec{
		Mode:    configv1alpha1.ImpersonationProxyModeAuto,
		Service: configv1alpha1.ImpersonationProxyServiceSpec{Type: configv1alpha1.ImpersonationProxyServiceTypeLoadBalancer},
	}}
}

// ParseSpec reads a CredentialIssuer spec given as JSON (the concierge's
// --credential-issuer-spec flag). Unknown fields, a missing impersonationProxy and
// values outside the CRD's enums are errors, so a typo in install values stops the
// concierge at start instead of being dropped silently.
func ParseSpec(s string) (*configv1alpha1.CredentialIssuerSpec, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	var spec configv1alpha1.CredentialIssuerSpec
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("CredentialIssuer spec: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("CredentialIssuer spec: trailing data after the JSON object")
	}
	p := spec.ImpersonationProxy
	if p == nil {
		return nil, errors.New("CredentialIssuer spec: impersonationProxy is required")
	}
	switch p.Mode {
	case configv1alpha1.ImpersonationProxyModeAuto, configv1alpha1.ImpersonationProxyModeEnabled, configv1alpha1.ImpersonationProxyModeDisabled:
	default:
		return nil, fmt.Errorf("CredentialIssuer spec: impersonationProxy.mode %q is not auto, enabled or disabled", p.Mode)
	}
	if p.Service.Type == "" {
		p.Service.Type = configv1alpha1.ImpersonationProxyServiceTypeLoadBalancer
	}
	switch p.Service.Type {
	case configv1alpha1.ImpersonationProxyServiceTypeLoadBalancer, configv1alpha1.ImpersonationProxyServiceTypeClusterIP:
	case configv1alpha1.ImpersonationProxyServiceTypeNone:
		if p.Mode != configv1alpha1.ImpersonationProxyModeDisabled && p.ExternalEndpoint == "" {
			return nil, errors.New("CredentialIssuer spec: impersonationProxy.externalEndpoint is required when service.type is None")
		}
	default:
		return nil, fmt.Errorf("CredentialIssuer spec: impersonationProxy.service.type %q is not LoadBalancer, ClusterIP or None", p.Service.Type)
	}
	return &spec, nil
}

// specHash is the sha256 of the spec's canonical JSON encoding.
func specHash(spec configv1alpha1.CredentialIssuerSpec) string {
	b, err := json.Marshal(spec)
	if err != nil {
		// A struct of strings, maps of strings and pointers to them always encodes.
		panic(fmt.Sprintf("encode CredentialIssuer spec: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
