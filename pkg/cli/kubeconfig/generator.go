// SPDX-License-Identifier: Apache-2.0

package kubeconfig

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	clientauthv1beta1 "k8s.io/client-go/pkg/apis/clientauthentication/v1beta1"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
)

// generator is one run of autodiscovery and kubeconfig assembly.
type generator struct {
	deps Deps
	log  *slog.Logger
	f    *flagpole
	src  *source
}

// conciergeParams are the discovered (or given) concierge settings of the exec plugin.
type conciergeParams struct {
	endpoint          string
	caPEM             []byte
	authenticatorType string
	authenticatorName string
}

func (g *generator) generate(ctx context.Context) (*clientcmdapi.Config, error) {
	f := g.f
	server, caPEM := g.src.server, g.src.caPEM
	var args []string
	if !f.concierge.disabled {
		c, err := g.discoverConcierge(ctx)
		if err != nil {
			return nil, err
		}
		server, caPEM = c.endpoint, c.caPEM
		args = conciergeArgs(c, f.concierge.apiGroupSuffix)
	}
	if f.credentialCacheSet {
		args = append(args, "--credential-cache="+f.credentialCache)
	}
	if f.static() {
		args = append([]string{"login", "static"}, args...)
		switch {
		case f.staticToken != "":
			args = append(args, "--token="+f.staticToken)
		case f.staticTokenEnv != "":
			args = append(args, "--token-env="+f.staticTokenEnv)
		default:
			args = append(args, "--token-file="+f.staticTokenFile)
		}
	} else {
		if err := g.discoverIdentityProvider(ctx); err != nil {
			return nil, err
		}
		args = append(append([]string{"login", "oidc"}, args...), oidcArgs(&f.oidc)...)
	}
	command := f.cliPath
	if command == "" {
		self, err := g.deps.GetPathToSelf()
		if err != nil {
			return nil, fmt.Errorf("could not find the path of this binary (use --pinniped-cli-path): %w", err)
		}
		command = self
	}
	exec := &clientcmdapi.ExecConfig{
		APIVersion:         clientauthv1beta1.SchemeGroupVersion.String(),
		Command:            command,
		Args:               args,
		Env:                []clientcmdapi.ExecEnvVar{},
		InstallHint:        f.installHint,
		ProvideClusterInfo: true,
	}
	return newKubeconfig(g.src, f.nameSuffix, server, caPEM, exec)
}

// discoverConcierge finds the endpoint from the CredentialIssuer and the authenticator,
// and takes the OIDC settings from a JWTAuthenticator.
func (g *generator) discoverConcierge(ctx context.Context) (*conciergeParams, error) {
	f := &g.f.concierge
	client, err := g.deps.NewClient(g.src.rest)
	if err != nil {
		return nil, fmt.Errorf("could not build a client for --kubeconfig: %w", err)
	}
	d := &discoverer{client: client, suffix: f.apiGroupSuffix, log: g.log, interval: g.deps.PollInterval}
	ci, err := d.credentialIssuer(ctx, f.credentialIssuer, !f.skipWait)
	if err != nil {
		return nil, err
	}
	frontend, err := selectFrontend(ci, f.mode)
	if err != nil {
		return nil, err
	}
	c := &conciergeParams{}
	switch frontend.Type {
	case configv1alpha1.ImpersonationProxyFrontendType:
		c.endpoint = frontend.ImpersonationProxyInfo.Endpoint
		if c.caPEM, err = base64.StdEncoding.DecodeString(frontend.ImpersonationProxyInfo.CertificateAuthorityData); err != nil {
			return nil, fmt.Errorf("CredentialIssuer %q advertises an impersonation proxy CA that is not base64: %w", ci.Name, err)
		}
		g.log.Info("discovered the concierge impersonation proxy", "endpoint", c.endpoint, "roots", countCerts(c.caPEM))
	default: // TokenCredentialRequestAPI: the API server itself, as the source kubeconfig reaches it
		c.endpoint, c.caPEM = g.src.server, g.src.caPEM
		g.log.Info("discovered the concierge TokenCredentialRequest API", "endpoint", c.endpoint)
	}
	if f.endpoint != "" {
		c.endpoint = f.endpoint
	}
	if len(f.caBundles) > 0 {
		if c.caPEM, err = readPEMFiles("--concierge-ca-bundle", f.caBundles); err != nil {
			return nil, err
		}
	}
	auth, err := d.authenticator(ctx, f.authenticatorType, f.authenticatorName)
	if err != nil {
		return nil, err
	}
	c.authenticatorType, c.authenticatorName = auth.typ, auth.name
	if auth.jwt != nil && !g.f.static() { // a static token needs no OIDC settings
		if err := d.applyJWTAuthenticator(ctx, auth.jwt, &g.f.oidc); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// static reports whether the kubeconfig uses `login static`.
func (f *flagpole) static() bool {
	return countSet(f.staticToken, f.staticTokenEnv, f.staticTokenFile) > 0
}

// conciergeArgs are the exec plugin's concierge flags, in the order of docs/wire-contract.md §3.2.
func conciergeArgs(c *conciergeParams, apiGroupSuffix string) []string {
	return []string{
		"--enable-concierge",
		"--concierge-api-group-suffix=" + apiGroupSuffix,
		"--concierge-authenticator-name=" + c.authenticatorName,
		"--concierge-authenticator-type=" + c.authenticatorType,
		"--concierge-endpoint=" + c.endpoint,
		"--concierge-ca-bundle-data=" + base64.StdEncoding.EncodeToString(c.caPEM),
	}
}

// oidcArgs are the exec plugin's `login oidc` flags after the concierge ones, in the
// order of docs/wire-contract.md §3.2.
func oidcArgs(o *oidcFlags) []string {
	args := []string{"--issuer=" + o.issuer, "--client-id=" + o.clientID, "--scopes=" + strings.Join(o.scopes, ",")}
	if o.skipBrowser {
		args = append(args, "--skip-browser")
	}
	if o.skipListen {
		args = append(args, "--skip-listen")
	}
	if o.listenPort != 0 {
		args = append(args, "--listen-port="+strconv.Itoa(int(o.listenPort)))
	}
	if len(o.caBundleData) > 0 {
		args = append(args, "--ca-bundle-data="+base64.StdEncoding.EncodeToString(o.caBundleData))
	}
	if o.sessionCache != "" {
		args = append(args, "--session-cache="+o.sessionCache)
	}
	if o.debugSessionCache {
		args = append(args, "--debug-session-cache")
	}
	if o.requestAudience != "" {
		args = append(args, "--request-audience="+o.requestAudience)
	}
	if o.idpName != "" {
		args = append(args, "--upstream-identity-provider-name="+o.idpName)
	}
	if o.idpType != "" {
		args = append(args, "--upstream-identity-provider-type="+o.idpType)
	}
	if o.idpFlow != "" {
		args = append(args, "--upstream-identity-provider-flow="+o.idpFlow)
	}
	return args
}

// errNoIssuer is returned when OIDC login is wanted but nothing names the issuer.
var errNoIssuer = errors.New("could not autodiscover --oidc-issuer (the authenticator is not a JWTAuthenticator, or --no-concierge is set) and none was given")
