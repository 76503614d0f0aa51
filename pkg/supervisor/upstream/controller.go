// SPDX-License-Identifier: Apache-2.0

package upstream

import (
	"log/slog"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/selkie-dev/selkie/pkg/internal/engine"
	"github.com/selkie-dev/selkie/pkg/servermetrics"
)

// ControllerConfig is what every identity-provider controller needs. The API group is
// whatever the manager's scheme maps the idp types to (see suffix.AddToScheme).
type ControllerConfig struct {
	// Client reads the identity providers, Secrets and ConfigMaps and writes status.
	Client client.Client
	// Registry receives the providers of Ready identity providers.
	Registry *Registry
	// Namespace is the supervisor's namespace; resources elsewhere are ignored.
	Namespace string
	// Clock returns the current time, for conditions and token expiry; nil means time.Now.
	Clock func() time.Time
	// Log receives the controller's logs (never secrets); nil means slog.Default().
	Log *slog.Logger
}

// WithDefaults returns c with its nil optional fields set.
func (c ControllerConfig) WithDefaults() ControllerConfig {
	c.Clock, c.Log = engine.OrDefaults(c.Clock, c.Log)
	return c
}

// EngineConfig is c as the reconcile engine's configuration.
func (c ControllerConfig) EngineConfig() engine.Config[Key, Provider] {
	return engine.Config[Key, Provider]{Client: c.Client, Store: c.Registry, Namespace: c.Namespace, Clock: c.Clock, Log: c.Log,
		Ready: servermetrics.IdentityProviderReady}
}

// KeyFunc returns the Key of the resource of kind called name, for engine.Kind.Key.
func KeyFunc(kind string) func(name string) Key {
	return func(name string) Key { return Key{Kind: kind, Name: name} }
}
