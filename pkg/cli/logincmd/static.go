// SPDX-License-Identifier: Apache-2.0

package logincmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	clientauthv1beta1 "k8s.io/client-go/pkg/apis/clientauthentication/v1beta1"

	"github.com/selkie-dev/selkie/pkg/cli/cache"
	"github.com/selkie-dev/selkie/pkg/cli/internal/conciergeclient"
)

type staticFlags struct {
	token, tokenEnv string
	concierge       conciergeFlags
}

func newStaticCommand(deps Deps) *cobra.Command {
	f := &staticFlags{}
	cmd := &cobra.Command{
		Use:   "static --token TOKEN | --token-env VAR",
		Short: "Present a static token (for a webhook or JWT authenticator)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatic(cmd.Context(), deps, f)
		},
	}
	cmd.Flags().StringVar(&f.token, "token", "", "the token")
	cmd.Flags().StringVar(&f.tokenEnv, "token-env", "", "name of the environment variable holding the token")
	f.concierge.register(cmd, cache.DefaultCredentialPath())
	return cmd
}

func runStatic(ctx context.Context, deps Deps, f *staticFlags) error {
	if ctx == nil {
		ctx = context.Background()
	}
	token := f.token
	switch {
	case f.token != "" && f.tokenEnv != "":
		return errors.New("use only one of --token and --token-env")
	case f.tokenEnv != "":
		if token = deps.Getenv(f.tokenEnv); token == "" {
			return fmt.Errorf("--token-env: the environment variable %s is unset or empty", f.tokenEnv)
		}
	case token == "":
		return errors.New("one of --token and --token-env is required")
	}
	if err := f.concierge.validate(); err != nil {
		return err
	}
	info := deps.execInfo()
	if !f.concierge.enabled { // the token goes to the API server as it is, uncached
		return deps.printCredential(info, &clientauthv1beta1.ExecCredentialStatus{Token: token})
	}
	var creds *cache.CredentialCache
	key := cache.StaticCredentialKey(deps.Args, token, info.cluster)
	if f.concierge.credentialCache != "" {
		creds = cache.NewCredentialCache(f.concierge.credentialCache, cache.WithLogger(deps.logger()))
		if c := creds.Get(key); c != nil {
			return deps.printCredential(info, c)
		}
	}
	status, err := conciergeclient.ExchangeToken(ctx, f.concierge.config(deps.logger()), token)
	if err != nil {
		return err
	}
	if creds != nil {
		creds.Put(key, status)
	}
	return deps.printCredential(info, status)
}
