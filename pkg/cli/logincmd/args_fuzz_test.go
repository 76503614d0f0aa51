// SPDX-License-Identifier: Apache-2.0

package logincmd

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// noWorldDeps are Deps whose ties to the outside world fail the test when used: parsing
// arguments must never open a browser or a terminal, nor print a credential.
func noWorldDeps(t *testing.T) Deps {
	fail := func(what string) error {
		t.Errorf("argument parsing used the %s", what)
		return errors.New("not allowed while parsing")
	}
	return Deps{
		Getenv:       func(string) string { return "" },
		Stdout:       failWriter{t, "standard output"},
		Stderr:       failWriter{t, "standard error"},
		OpenTTY:      func() (io.ReadWriteCloser, error) { return nil, fail("terminal") },
		ReadPassword: func(io.ReadWriter) (string, error) { return "", fail("password prompt") },
		OpenBrowser:  func(string) error { return fail("browser") },
		Clock:        func() time.Time { return time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) },
	}
}

// failWriter fails the test on any write.
type failWriter struct {
	t    *testing.T
	name string
}

func (w failWriter) Write(p []byte) (int, error) {
	w.t.Errorf("argument parsing wrote %q to %s", p, w.name)
	return len(p), nil
}

// flagValues is every flag of fs with its value and whether it was set.
func flagValues(fs *pflag.FlagSet) map[string]string {
	out := map[string]string{}
	fs.VisitAll(func(fl *pflag.Flag) { out[fl.Name] = fmt.Sprintf("%v %s", fl.Changed, fl.Value.String()) })
	return out
}

// parseLogin finds the command args name below a fresh `selkie login` tree, as the CLI
// would, and parses its flags without running it.
func parseLogin(t *testing.T, args []string) (*cobra.Command, error) {
	root := &cobra.Command{Use: "selkie", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(NewCommand(noWorldDeps(t)))
	cmd, rest, err := root.Find(args)
	if err != nil {
		return cmd, err
	}
	return cmd, cmd.ParseFlags(rest)
}

// FuzzExecPluginArgs parses fuzzed argument lists (a string split on NUL bytes) as the
// exec plugin's `login oidc` and `login static` arguments, the way the CLI and logout
// (ParseOIDCArgs) read them from a kubeconfig.
//
// Properties:
//   - finding the command and parsing its flags never panics, and never uses the
//     browser, the terminal or the output (no login starts, nothing touches the
//     network: RunE is never called);
//   - parsing is deterministic: two fresh parses give the same flag values;
//   - ParseOIDCArgs accepts exactly the `login oidc` argument lists the command itself
//     accepts, and returns the values the command's flags hold, so that logout finds
//     the cache entries the login wrote;
//   - SessionKey sorts a copy of the scopes and builds the loopback redirect URI;
//   - the concierge flag validation only accepts a complete configuration, and the CA
//     bundle data check only accepts base64 PEM.
func FuzzExecPluginArgs(f *testing.F) {
	for _, args := range [][]string{
		{"login", "oidc", "--issuer=https://sup.example.com/fd", "--client-id=pinniped-cli",
			"--scopes=offline_access,openid,pinniped:request-audience,username,groups", "--ca-bundle-data=" + base64.StdEncoding.EncodeToString([]byte("not a PEM")),
			"--request-audience=cluster-a", "--upstream-identity-provider-name=corp", "--upstream-identity-provider-type=ldap",
			"--enable-concierge", "--concierge-api-group-suffix=pinniped.dev", "--concierge-authenticator-name=jwt",
			"--concierge-authenticator-type=jwt", "--concierge-endpoint=https://1.2.3.4", "--concierge-ca-bundle-data=Zm9v"},
		{"login", "static", "--token=abc", "--enable-concierge", "--concierge-endpoint=https://k8s", "--concierge-authenticator-type=webhook", "--concierge-authenticator-name=hook"},
		{"login", "static", "--token-env", "TOKEN", "--credential-cache="},
		{"login", "oidc", "--issuer", "https://x", "--listen-port", "48095", "--skip-browser", "--session-cache", "/tmp/s.yaml", "--scopes", "b,a", "--scopes", "c"},
		{"login", "oidc", "--listen-port", "x"},
		{"login", "oidc", "--scopes"},
		{"login", "oidc", "--", "--issuer"},
		{"login", "oidc", "-h"},
		{"login", "oidc", "--skip-listen=maybe", "--enable-concierge=false"},
		{"login", "bogus", "--issuer=x"},
		{"login"},
		{""},
		{"oidc", "login"},
		{"login", "oidc", "--ca-bundle-data=%%%", "--concierge-ca-bundle-data=!!", "--enable-concierge", "--concierge-endpoint=e", "--concierge-authenticator-type=jwt", "--concierge-authenticator-name=n"},
	} {
		f.Add(strings.Join(args, "\x00"))
	}
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")

		cmd, err := parseLogin(t, args)
		again, err2 := parseLogin(t, args)
		if (err == nil) != (err2 == nil) || (cmd == nil) != (again == nil) {
			t.Fatalf("two parses differ: %v, %v", err, err2)
		}
		if cmd != nil && err == nil {
			if cmd.CommandPath() != again.CommandPath() {
				t.Fatalf("two parses found %q and %q", cmd.CommandPath(), again.CommandPath())
			}
			a, b := flagValues(cmd.Flags()), flagValues(again.Flags())
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Fatalf("two parses give different flags:\n%v\n%v", a, b)
			}
		}

		// The oidc command's own parse, and the parse logout uses.
		isOIDC := len(args) >= 2 && args[0] == "login" && args[1] == "oidc"
		var f oidcFlags
		var ownErr error
		if isOIDC {
			ownErr = newOIDCCommandFor(noWorldDeps(t), &f).ParseFlags(args[2:])
		}
		parsed, err := ParseOIDCArgs(args)
		switch {
		case !isOIDC:
			if err == nil {
				t.Fatalf("ParseOIDCArgs accepted %q, which is no `login oidc` invocation", args)
			}
		case (err == nil) != (ownErr == nil):
			t.Fatalf("ParseOIDCArgs error %v, the command's %v", err, ownErr)
		case err == nil:
			if parsed.Issuer != f.issuer || parsed.ClientID != f.clientID || !slices.Equal(parsed.Scopes, f.scopes) ||
				parsed.ListenPort != f.listenPort || parsed.IDPName != f.idpName || parsed.SessionCache != f.sessionCache ||
				parsed.CredentialCache != f.concierge.credentialCache {
				t.Fatalf("ParseOIDCArgs %+v differs from the command's flags %+v", parsed, f)
			}
			scopes := slices.Clone(parsed.Scopes)
			key := parsed.SessionKey()
			if !slices.Equal(parsed.Scopes, scopes) {
				t.Error("SessionKey changed the arguments' scopes")
			}
			if !slices.IsSorted(key.Scopes) || len(key.Scopes) != len(scopes) || key.Issuer != parsed.Issuer || key.ClientID != parsed.ClientID ||
				key.RedirectURI != fmt.Sprintf("http://localhost:%d/callback", parsed.ListenPort) || key.UpstreamProviderName != parsed.IDPName {
				t.Errorf("session key %+v for %+v", key, parsed)
			}
			// Only the data bundles: the file bundles would read fuzzed paths.
			if _, err := issuerHTTPClient(nil, f.caBundleData); err == nil {
				for _, d := range f.caBundleData {
					if _, err := base64.StdEncoding.DecodeString(d); err != nil {
						t.Errorf("--ca-bundle-data %q accepted but not base64", d)
					}
				}
			}
			checkConcierge(t, f.concierge)
		}

		// The static command's concierge flags, read back through its flag set.
		if len(args) >= 2 && args[0] == "login" && args[1] == "static" {
			c := newStaticCommand(noWorldDeps(t))
			if c.ParseFlags(args[2:]) == nil {
				value := func(name string) string { return c.Flags().Lookup(name).Value.String() }
				checkConcierge(t, conciergeFlags{enabled: value("enable-concierge") == "true", endpoint: value("concierge-endpoint"),
					caBundleData: value("concierge-ca-bundle-data"), authenticatorType: value("concierge-authenticator-type"),
					authenticatorName: value("concierge-authenticator-name")})
			}
		}
	})
}

// checkConcierge checks that validate accepts only a complete concierge configuration,
// and gives the same answer twice.
func checkConcierge(t *testing.T, c conciergeFlags) {
	t.Helper()
	err := c.validate()
	if (err == nil) != (c.validate() == nil) {
		t.Fatal("validate is not deterministic")
	}
	if err != nil {
		if !c.enabled {
			t.Errorf("validate refused a disabled concierge: %v", err)
		}
		return
	}
	if !c.enabled {
		return
	}
	if c.endpoint == "" || (c.authenticatorType != "jwt" && c.authenticatorType != "webhook") || c.authenticatorName == "" {
		t.Errorf("validate accepted an incomplete concierge configuration %+v", c)
	}
	if _, err := base64.StdEncoding.DecodeString(c.caBundleData); err != nil {
		t.Errorf("validate accepted CA bundle data %q that is not base64", c.caBundleData)
	}
}
