// SPDX-License-Identifier: Apache-2.0

package logincmd

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/selkie-dev/selkie/pkg/cli/internal/conciergeclient"
)

// NewCommand returns `login` with its `oidc` and `static` subcommands.
func NewCommand(deps Deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in and print an ExecCredential (kubectl's exec credential plugin)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newOIDCCommand(deps), newStaticCommand(deps))
	return cmd
}

// conciergeFlags are shared by both login commands.
type conciergeFlags struct {
	enabled           bool
	endpoint          string
	caBundleData      string
	authenticatorType string
	authenticatorName string
	apiGroupSuffix    string
	credentialCache   string
	// namespace is the deprecated --concierge-namespace: kubeconfigs written by older CLIs
	// carry it, and the login needs no namespace.
	namespace string
}

func (c *conciergeFlags) register(cmd *cobra.Command, defaultCredentialCache string) {
	fs := cmd.Flags()
	fs.BoolVar(&c.enabled, "enable-concierge", false, "exchange the token for a client certificate at the concierge")
	fs.StringVar(&c.endpoint, "concierge-endpoint", "", "API server or impersonation proxy URL of the concierge")
	fs.StringVar(&c.caBundleData, "concierge-ca-bundle-data", "", "CA bundle (base64 PEM) of --concierge-endpoint")
	fs.StringVar(&c.authenticatorType, "concierge-authenticator-type", "", "concierge authenticator type: jwt or webhook")
	fs.StringVar(&c.authenticatorName, "concierge-authenticator-name", "", "concierge authenticator name")
	fs.StringVar(&c.apiGroupSuffix, "concierge-api-group-suffix", "pinniped.dev", "concierge API group suffix")
	fs.StringVar(&c.credentialCache, "credential-cache", defaultCredentialCache, "credential cache file (\"\" disables it)")
	// Hidden, not MarkDeprecated: cobra would print a deprecation warning on every kubectl
	// call that runs an older kubeconfig's exec plugin.
	fs.StringVar(&c.namespace, "concierge-namespace", "pinniped-concierge", "deprecated and ignored: the concierge is found through its API")
	_ = fs.MarkHidden("concierge-namespace")
}

func (c *conciergeFlags) validate() error {
	if !c.enabled {
		return nil
	}
	c.authenticatorType = strings.ToLower(c.authenticatorType)
	switch {
	case c.endpoint == "":
		return errors.New("--concierge-endpoint is required with --enable-concierge")
	case c.authenticatorType != "jwt" && c.authenticatorType != "webhook":
		return fmt.Errorf("--concierge-authenticator-type %q must be jwt or webhook", c.authenticatorType)
	case c.authenticatorName == "":
		return errors.New("--concierge-authenticator-name is required with --enable-concierge")
	}
	if c.caBundleData != "" {
		if _, err := base64.StdEncoding.DecodeString(c.caBundleData); err != nil {
			return fmt.Errorf("--concierge-ca-bundle-data is not base64: %w", err)
		}
	}
	return nil
}

func (c *conciergeFlags) config(log *slog.Logger) conciergeclient.Config {
	ca, _ := base64.StdEncoding.DecodeString(c.caBundleData)
	return conciergeclient.Config{Endpoint: c.endpoint, CABundle: ca, APIGroupSuffix: c.apiGroupSuffix,
		AuthenticatorType: c.authenticatorType, AuthenticatorName: c.authenticatorName, Log: log}
}
