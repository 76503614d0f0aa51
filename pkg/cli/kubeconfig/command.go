// SPDX-License-Identifier: Apache-2.0

package kubeconfig

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/selkie-dev/selkie/pkg/apis/suffix"
)

// Defaults of docs/wire-contract.md §3.1 that differ from the reference CLI's or are shared
// with the login command.
const (
	defaultNameSuffix  = "-selkie"
	defaultClientID    = "pinniped-cli"
	defaultTimeout     = 10 * time.Minute
	defaultInstallHint = "The selkie CLI does not appear to be installed: install it (a pinniped CLI works too) at this exec command path."
)

// Concierge modes (--concierge-mode), named after the CredentialIssuer frontend types.
const (
	modeTokenCredentialRequestAPI = "TokenCredentialRequestAPI"
	modeImpersonationProxy        = "ImpersonationProxy"
)

// defaultScopes are --oidc-scopes unless set.
func defaultScopes() []string {
	return []string{"offline_access", "openid", "pinniped:request-audience", "username", "groups"}
}

type conciergeFlags struct {
	disabled                             bool
	apiGroupSuffix, credentialIssuer     string
	authenticatorType, authenticatorName string
	mode, endpoint                       string
	caBundles                            []string
	skipWait                             bool
	namespace                            string // deprecated and unused: found from the APIService
}

type oidcFlags struct {
	issuer, clientID, requestAudience string
	scopes, caBundles                 []string
	listenPort                        uint16
	skipBrowser, skipListen           bool
	sessionCache                      string
	debugSessionCache                 bool
	idpName, idpType, idpFlow         string
	caBundleData                      []byte // --oidc-ca-bundle contents, or discovered
}

type flagpole struct {
	kubeconfig, kubeconfigContext, output string
	timeout                               time.Duration
	skipValidation                        bool
	staticToken, staticTokenEnv           string
	staticTokenFile                       string
	credentialCache                       string
	credentialCacheSet                    bool
	nameSuffix, cliPath, installHint      string
	concierge                             conciergeFlags
	oidc                                  oidcFlags
}

// NewCommand returns `kubeconfig`, wired below `get`.
func NewCommand(deps Deps) *cobra.Command {
	f := &flagpole{}
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Generate a kubeconfig that logs in through the concierge and the supervisor",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.credentialCacheSet = cmd.Flags().Changed("credential-cache")
			return run(cmd.Context(), deps, f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "source kubeconfig (default $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&f.kubeconfigContext, "kubeconfig-context", "", "context of the source kubeconfig (default the current one)")
	fs.StringVarP(&f.output, "output", "o", "", "write the kubeconfig to this file (default stdout)")
	fs.DurationVar(&f.timeout, "timeout", defaultTimeout, "give up autodiscovery and validation after this long")
	fs.BoolVar(&f.skipValidation, "skip-validation", false, "do not check that the new cluster URL answers")
	fs.StringVar(&f.staticToken, "static-token", "", "log in with this static token (login static) instead of OIDC")
	fs.StringVar(&f.staticTokenEnv, "static-token-env", "", "log in with the static token in this environment variable")
	fs.StringVar(&f.staticTokenFile, "static-token-file", "", "log in with the static token in this file, read at every login (a pipeline's ID token)")
	fs.StringVar(&f.credentialCache, "credential-cache", "", "credential cache file of the exec plugin (copied only if set)")
	fs.StringVar(&f.nameSuffix, "generated-name-suffix", defaultNameSuffix, "appended to the cluster, user and context names")
	fs.StringVar(&f.cliPath, "pinniped-cli-path", "", "exec command of the kubeconfig (default this binary's absolute path)")
	fs.StringVar(&f.installHint, "install-hint", defaultInstallHint, "exec install hint shown when the command is missing")
	f.concierge.register(cmd)
	f.oidc.register(cmd)
	return cmd
}

func (c *conciergeFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.BoolVar(&c.disabled, "no-concierge", false, "send the ID token straight to the API server (no concierge)")
	fs.StringVar(&c.apiGroupSuffix, "concierge-api-group-suffix", suffix.Default, "concierge API group suffix")
	fs.StringVar(&c.credentialIssuer, "concierge-credential-issuer", "", "CredentialIssuer to read (default the only one)")
	fs.StringVar(&c.authenticatorType, "concierge-authenticator-type", "", "authenticator type, jwt or webhook (default autodiscovered)")
	fs.StringVar(&c.authenticatorName, "concierge-authenticator-name", "", "authenticator name (default the only one)")
	fs.StringVar(&c.mode, "concierge-mode", "", "TokenCredentialRequestAPI or ImpersonationProxy (default the first successful strategy)")
	fs.StringVar(&c.endpoint, "concierge-endpoint", "", "concierge endpoint URL (default autodiscovered)")
	fs.StringSliceVar(&c.caBundles, "concierge-ca-bundle", nil, "CA bundle file of the concierge endpoint (repeatable; default autodiscovered)")
	fs.BoolVar(&c.skipWait, "concierge-skip-wait", false, "do not wait while a CredentialIssuer strategy is Pending")
	fs.StringVar(&c.namespace, "concierge-namespace", "pinniped-concierge", "unused: the namespace is discovered")
	_ = fs.MarkDeprecated("concierge-namespace", "it is discovered from the login APIService")
}

func (o *oidcFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&o.issuer, "oidc-issuer", "", "OIDC issuer URL (default the JWTAuthenticator's issuer)")
	fs.StringVar(&o.clientID, "oidc-client-id", defaultClientID, "OAuth client ID")
	fs.StringSliceVar(&o.scopes, "oidc-scopes", defaultScopes(), "scopes to request")
	fs.StringVar(&o.requestAudience, "oidc-request-audience", "", "audience to exchange the ID token for (default the JWTAuthenticator's)")
	fs.StringSliceVar(&o.caBundles, "oidc-ca-bundle", nil, "CA bundle file of the issuer (repeatable; default the JWTAuthenticator's)")
	fs.Uint16Var(&o.listenPort, "oidc-listen-port", 0, "port of the loopback listener for the browser login")
	fs.BoolVar(&o.skipBrowser, "oidc-skip-browser", false, "print the login URL instead of opening a browser")
	fs.BoolVar(&o.skipListen, "oidc-skip-listen", false, "start no loopback listener")
	fs.StringVar(&o.sessionCache, "oidc-session-cache", "", "session cache file of the exec plugin (copied only if set)")
	fs.BoolVar(&o.debugSessionCache, "oidc-debug-session-cache", false, "log session cache activity")
	fs.StringVar(&o.idpName, "upstream-identity-provider-name", "", "identity provider name (default the only one)")
	fs.StringVar(&o.idpType, "upstream-identity-provider-type", "", "identity provider type: oidc, ldap, activedirectory or github")
	fs.StringVar(&o.idpFlow, "upstream-identity-provider-flow", "", "login flow: browser_authcode or cli_password (default the IdP's first)")
	_ = fs.MarkHidden("oidc-skip-listen")
	_ = fs.MarkHidden("oidc-debug-session-cache")
}

// validate checks the flags that need no cluster.
func (f *flagpole) validate() error {
	if err := suffix.Validate(f.concierge.apiGroupSuffix); err != nil {
		return fmt.Errorf("--concierge-api-group-suffix: %w", err)
	}
	if n := countSet(f.staticToken, f.staticTokenEnv, f.staticTokenFile); n > 1 {
		return errors.New("use only one of --static-token, --static-token-env and --static-token-file")
	}
	if f.timeout <= 0 {
		return fmt.Errorf("--timeout %s must be positive", f.timeout)
	}
	switch strings.ToLower(f.concierge.authenticatorType) {
	case "", "jwt", "webhook":
		f.concierge.authenticatorType = strings.ToLower(f.concierge.authenticatorType)
	default:
		return fmt.Errorf("--concierge-authenticator-type %q must be jwt or webhook", f.concierge.authenticatorType)
	}
	switch strings.ToLower(f.concierge.mode) {
	case "":
	case strings.ToLower(modeTokenCredentialRequestAPI):
		f.concierge.mode = modeTokenCredentialRequestAPI
	case strings.ToLower(modeImpersonationProxy):
		f.concierge.mode = modeImpersonationProxy
	default:
		return fmt.Errorf("--concierge-mode %q must be %s or %s", f.concierge.mode, modeTokenCredentialRequestAPI, modeImpersonationProxy)
	}
	if f.concierge.endpoint != "" && !strings.HasPrefix(f.concierge.endpoint, "https://") {
		return fmt.Errorf("--concierge-endpoint %q must be an https URL", f.concierge.endpoint)
	}
	return checkAudience(f.oidc.requestAudience)
}

// checkAudience refuses audiences the supervisor would never issue: the substring is
// reserved (docs/wire-contract.md §0.2).
func checkAudience(audience string) error {
	if strings.Contains(audience, ".pinniped.dev") {
		return fmt.Errorf("the request audience %q must not contain the reserved substring \".pinniped.dev\"", audience)
	}
	return nil
}

// countSet counts the non-empty values.
func countSet(values ...string) int {
	n := 0
	for _, v := range values {
		if v != "" {
			n++
		}
	}
	return n
}
