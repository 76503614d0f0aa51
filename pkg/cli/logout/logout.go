// SPDX-License-Identifier: Apache-2.0

// Package logout implements `selkie logout` (a Selkie extension): for the kubeconfig
// context's `login oidc` user it removes the session and credential cache entries and
// revokes the session at the supervisor, so the refresh token is dead everywhere; with
// --all it does that for every such user of the kubeconfig and empties both default
// caches (the session cache and the credential cache), whatever they hold.
package logout

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	clientauthv1beta1 "k8s.io/client-go/pkg/apis/clientauthentication/v1beta1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/selkie-dev/selkie/pkg/cli/cache"
	"github.com/selkie-dev/selkie/pkg/cli/internal/oidcclient"
	"github.com/selkie-dev/selkie/pkg/cli/logincmd"
)

type flagpole struct {
	kubeconfig, context string
	all                 bool
	timeout             time.Duration
}

// NewCommand returns `logout`.
func NewCommand() *cobra.Command {
	f := &flagpole{}
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "End the login of the current kubeconfig context (or all of them) and revoke it at the supervisor",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, cancel := context.WithTimeout(ctx, f.timeout)
			defer cancel()
			return run(ctx, cmd.ErrOrStderr(), f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&f.context, "kubeconfig-context", "", "kubeconfig context (default the current one)")
	fs.BoolVar(&f.all, "all", false, "log out of every user of the kubeconfig that logs in with \"login oidc\", and empty the default session and credential caches")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "give up on the supervisor after this long")
	return cmd
}

func run(ctx context.Context, out io.Writer, f *flagpole) error {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.kubeconfig
	raw, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).RawConfig()
	if err != nil {
		return fmt.Errorf("could not load the kubeconfig: %w", err)
	}
	contexts := []string{f.context}
	if f.context == "" {
		contexts = []string{raw.CurrentContext}
	}
	if f.all {
		contexts = contexts[:0]
		for name := range raw.Contexts {
			contexts = append(contexts, name)
		}
	}
	found := 0
	for _, name := range contexts {
		kctx, ok := raw.Contexts[name]
		if !ok {
			return fmt.Errorf("no context %q in the kubeconfig", name)
		}
		user := raw.AuthInfos[kctx.AuthInfo]
		if user == nil || user.Exec == nil {
			continue
		}
		args, err := logincmd.ParseOIDCArgs(user.Exec.Args)
		if err != nil {
			continue // not a `login oidc` user
		}
		found++
		logoutOne(ctx, out, name, args, user.Exec.Args, raw.Clusters[kctx.Cluster])
	}
	if f.all {
		if path := cache.DefaultSessionPath(); path != "" {
			n := cache.NewSessionCache(path).Delete(func(cache.SessionKey) bool { return true })
			fmt.Fprintf(out, "removed %d session(s) from %s\n", n, path)
		}
		if path := cache.DefaultCredentialPath(); path != "" {
			n := cache.NewCredentialCache(path).DeleteAll()
			fmt.Fprintf(out, "removed %d credential(s) from %s\n", n, path)
		}
	}
	if found == 0 && !f.all {
		return fmt.Errorf("the user of context %q does not log in with `login oidc`", contexts[0])
	}
	return nil
}

// logoutOne revokes and forgets one context's login. Revocation is best effort: the
// local entries go even when the supervisor cannot be reached.
func logoutOne(ctx context.Context, out io.Writer, name string, args *logincmd.OIDCArgs, rawArgs []string, cluster *clientcmdapi.Cluster) {
	sessions := cache.NewSessionCache(args.SessionCache)
	key := args.SessionKey()
	if tokens := sessions.Get(key); tokens != nil && tokens.Refresh != nil {
		if err := revoke(ctx, args, tokens.Refresh.Token); err != nil {
			fmt.Fprintf(out, "context %s: could not revoke the session at %s: %v\n", name, args.Issuer, err)
		} else {
			fmt.Fprintf(out, "context %s: revoked the session at %s\n", name, args.Issuer)
		}
	}
	sessions.Delete(func(k cache.SessionKey) bool { return sameKey(k, key) })
	if args.CredentialCache != "" {
		creds := cache.NewCredentialCache(args.CredentialCache)
		creds.Delete(cache.CredentialKey(rawArgs, nil))
		if c := execCluster(cluster); c != nil {
			creds.Delete(cache.CredentialKey(rawArgs, c))
		}
	}
	fmt.Fprintf(out, "context %s: logged out\n", name)
}

func revoke(ctx context.Context, args *logincmd.OIDCArgs, refreshToken string) error {
	httpClient, err := args.HTTPClient()
	if err != nil {
		return err
	}
	client, err := oidcclient.Discover(ctx, args.Issuer, args.ClientID, httpClient, nil)
	if err != nil {
		return err
	}
	return client.Revoke(ctx, refreshToken)
}

func sameKey(a, b cache.SessionKey) bool {
	if a.Issuer != b.Issuer || a.ClientID != b.ClientID || a.RedirectURI != b.RedirectURI || a.UpstreamProviderName != b.UpstreamProviderName || len(a.Scopes) != len(b.Scopes) {
		return false
	}
	for i := range a.Scopes {
		if a.Scopes[i] != b.Scopes[i] {
			return false
		}
	}
	return true
}

// execCluster is the spec.cluster kubectl sends the plugin with provideClusterInfo, for
// the kubeconfig's usual fields (an exec extension in the cluster is not rebuilt).
func execCluster(c *clientcmdapi.Cluster) *clientauthv1beta1.Cluster {
	if c == nil {
		return nil
	}
	return &clientauthv1beta1.Cluster{Server: c.Server, TLSServerName: c.TLSServerName, InsecureSkipTLSVerify: c.InsecureSkipTLSVerify,
		CertificateAuthorityData: c.CertificateAuthorityData, ProxyURL: c.ProxyURL, DisableCompression: c.DisableCompression}
}
