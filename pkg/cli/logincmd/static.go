// SPDX-License-Identifier: Apache-2.0

package logincmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	clientauthv1beta1 "k8s.io/client-go/pkg/apis/clientauthentication/v1beta1"

	"github.com/selkie-dev/selkie/pkg/cli/cache"
	"github.com/selkie-dev/selkie/pkg/cli/internal/conciergeclient"
)

type staticFlags struct {
	token, tokenEnv, tokenFile string
	concierge                  conciergeFlags
}

// maxTokenFileBytes bounds what --token-file reads: a JWT of a CI system is a few KiB.
const maxTokenFileBytes = 64 << 10

func newStaticCommand(deps Deps) *cobra.Command {
	f := &staticFlags{}
	cmd := &cobra.Command{
		Use:   "static --token TOKEN | --token-env VAR | --token-file PATH",
		Short: "Present a static token (for a webhook or JWT authenticator), such as a CI job's ID token",
		Long: `Present a static token to the concierge (or, without --enable-concierge, to the API server).

For pipelines: a CI job's OIDC ID token, read from an environment variable
(--token-env, as GitLab CI provides it) or from a file (--token-file, re-read at every
call, so the job can replace it before it expires).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatic(cmd.Context(), deps, f)
		},
	}
	cmd.Flags().StringVar(&f.token, "token", "", "the token")
	cmd.Flags().StringVar(&f.tokenEnv, "token-env", "", "name of the environment variable holding the token")
	cmd.Flags().StringVar(&f.tokenFile, "token-file", "", "path of a file holding the token (surrounding white space is ignored)")
	f.concierge.register(cmd, cache.DefaultCredentialPath())
	return cmd
}

func runStatic(ctx context.Context, deps Deps, f *staticFlags) error {
	if ctx == nil {
		ctx = context.Background()
	}
	token := f.token
	set := 0
	for _, v := range []string{f.token, f.tokenEnv, f.tokenFile} {
		if v != "" {
			set++
		}
	}
	switch {
	case set > 1:
		return errors.New("use only one of --token, --token-env and --token-file")
	case f.tokenEnv != "":
		if token = deps.Getenv(f.tokenEnv); token == "" {
			return fmt.Errorf("--token-env: the environment variable %s is unset or empty", f.tokenEnv)
		}
	case f.tokenFile != "":
		var err error
		if token, err = readTokenFile(f.tokenFile); err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
	case token == "":
		return errors.New("one of --token, --token-env and --token-file is required")
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

// readTokenFile reads a token from path: one line of printable ASCII, as JWTs and
// webhook tokens are, with surrounding white space removed. The error never quotes
// the file's content.
func readTokenFile(path string) (string, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the user names the file holding their own token.
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	raw, err := io.ReadAll(io.LimitReader(f, maxTokenFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if len(raw) > maxTokenFileBytes {
		return "", fmt.Errorf("%s is larger than %d bytes, which is not a token", path, maxTokenFileBytes)
	}
	token := strings.TrimSpace(string(raw))
	if token == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	for _, c := range token {
		if c <= ' ' || c > '~' {
			return "", fmt.Errorf("%s holds more than one line or a character a token cannot have", path)
		}
	}
	return token, nil
}
