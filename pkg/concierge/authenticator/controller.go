// SPDX-License-Identifier: Apache-2.0

package authenticator

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/internal/engine"
	"github.com/selkie-dev/selkie/pkg/servermetrics"
	"github.com/selkie-dev/selkie/pkg/tlsconfig"
)

// ControllerConfig is what the authenticator controllers (JWT, webhook) need.
type ControllerConfig struct {
	// Client reads the authenticators, Secrets and ConfigMaps and writes status.
	Client client.Client
	// Cache receives the live authenticators of Ready resources.
	Cache *Cache
	// APIGroup is the authentication API group with the install's suffix, used in
	// cache keys (e.g. "authentication.concierge.pinniped.dev").
	APIGroup string
	// Namespace is the concierge's namespace, where CA Secrets and ConfigMaps live.
	Namespace string
	// Clock returns the current time for condition timestamps; nil means time.Now.
	Clock func() time.Time
	// Log receives the controller's logs; nil means slog.Default().
	Log *slog.Logger
}

// WithDefaults returns c with its nil optional fields set.
func (c ControllerConfig) WithDefaults() ControllerConfig {
	c.Clock, c.Log = engine.OrDefaults(c.Clock, c.Log)
	return c
}

// TLSCheck returns the independent TLSConfigurationValid check of spec, which reads a
// referenced Secret or ConfigMap from namespace through r and, when it passes, sets *out
// to the loaded bundle.
func TLSCheck(r client.Reader, namespace string, spec *authenticationv1alpha1.TLSSpec, out **tlsconfig.Bundle) engine.Check {
	return engine.Check{
		Type:        authenticationv1alpha1.ConditionTLSConfigurationValid,
		Success:     "spec.tls is valid",
		Independent: true,
		Run: func(ctx context.Context) (string, *engine.Failure) {
			s := tlsconfig.FromConcierge(spec)
			b, err := tlsconfig.Load(ctx, r, namespace, "spec.tls", s)
			if err != nil {
				return "", &engine.Failure{
					Reason:  authenticationv1alpha1.ReasonInvalidTLSConfig,
					Message: err.Error(),
					Retry:   tlsconfig.IsTransient(err),
				}
			}
			*out = b
			switch {
			case s.Source != nil:
				return fmt.Sprintf("spec.tls is valid: using the CA bundle in %s %s key %q",
					s.Source.Kind, s.Source.Name, s.Source.Key), nil
			case b.PEM() != nil:
				return "spec.tls is valid: using the CA bundle in certificateAuthorityData", nil
			default:
				return "spec.tls is valid: no CA bundle specified, using the system trust roots", nil
			}
		},
	}
}

// Fingerprint identifies the configuration an authenticator is built from: its spec
// (with defaults) and the CA bundle it trusts.
func Fingerprint(spec any, bundle *tlsconfig.Bundle) string {
	return engine.Fingerprint(struct {
		Spec any    `json:"spec"`
		CA   []byte `json:"ca"`
	}{spec, bundle.PEM()})
}

// EngineConfig is c as the reconcile engine's configuration.
func (c ControllerConfig) EngineConfig() engine.Config[Key, Token] {
	return engine.Config[Key, Token]{Client: c.Client, Store: c.Cache, Namespace: c.Namespace, Clock: c.Clock, Log: c.Log,
		Ready: servermetrics.AuthenticatorReady}
}

// KeyFunc returns the cache Key of the resource of kind called name, for engine.Kind.Key.
func (c ControllerConfig) KeyFunc(kind string) func(name string) Key {
	return func(name string) Key { return Key{APIGroup: c.APIGroup, Kind: kind, Name: name} }
}

// Probe is what an authenticator kind's checks learn and build: the spec they validate
// (with its defaults), the CA bundle TLSCheck loads, and the authenticator the remote
// checks build. Kinds embed it in their own probe.
type Probe[S any] struct {
	Spec   S
	Bundle *tlsconfig.Bundle
	Built  Token
}

// ValidateProbe validates one resource of kind: local (the kind's own local checks, run
// even when spec.tls is invalid; make them Independent to run each after a failure of
// another), then tls, then remote. The remote checks run only when
// the configuration (p.Spec and the CA bundle) differs from the one current was built
// from: an unchanged, already validated configuration is not probed again, so that a
// flaky network does not evict a working authenticator.
func ValidateProbe[S any](ctx context.Context, c ControllerConfig, kind, name string, current *engine.Current[Token],
	p *Probe[S], local []engine.Check, tls *authenticationv1alpha1.TLSSpec, remote []engine.Check) *engine.Validation[Token] {
	v := engine.NewValidation[Token]()
	v.Run(ctx, append(local, TLSCheck(c.Client, c.Namespace, tls, &p.Bundle))...)
	if !v.OK {
		v.Run(ctx, remote...)
		return v
	}
	fp := Fingerprint(p.Spec, p.Bundle)
	if current.Matches(fp) {
		c.Log.DebugContext(ctx, "configuration unchanged; keeping the cached authenticator", "name", name, "kind", kind)
		v.Pass(remote...)
		return v
	}
	v.Run(ctx, remote...)
	if v.OK {
		v.Build(p.Built, fp)
	}
	return v
}
