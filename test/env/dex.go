// SPDX-License-Identifier: Apache-2.0

package env

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/bcrypt"
	"sigs.k8s.io/yaml"
)

// Dex is a running Dex, the environment's upstream OIDC provider (the stand-in for Okta).
type Dex struct {
	// Issuer is Dex's issuer URL, https on loopback.
	Issuer string
	// ClientID and ClientSecret identify the static confidential client for the supervisor.
	ClientID, ClientSecret string
	// RedirectURIs are the client's registered redirect URIs.
	RedirectURIs []string
	// ReadyAfter is the time from start to answering discovery.
	ReadyAfter time.Duration

	proc *Process
}

// DexOptions configures StartDex.
type DexOptions struct {
	// Users are the static password-database users; each gets its groups in the ID token.
	Users []User
	// RedirectURIs are registered for the supervisor client.
	RedirectURIs []string
	// LDAP, when set, adds an "ldap" connector backed by that directory.
	LDAP *LDAP
}

// StartDex starts Dex with memory storage, HTTPS with a certificate from ca, the password
// grant enabled (so tests need no browser) and the approval screen skipped.
func StartDex(ctx context.Context, bins Binaries, dir string, ca *CA, opts DexOptions) (*Dex, error) {
	d, err := startDex(ctx, bins, dir, ca, opts)
	return d, errPeer("dex", err)
}

func startDex(ctx context.Context, bins Binaries, dir string, ca *CA, opts DexOptions) (*Dex, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	serving, err := ca.Issue("dex", ServerAuth, "dex", nil, "127.0.0.1", "localhost")
	if err != nil {
		return nil, err
	}
	d := &Dex{
		Issuer:       "https://" + hostPort(ports[0]) + "/dex",
		ClientID:     "selkie-supervisor",
		ClientSecret: randomString(24),
		RedirectURIs: opts.RedirectURIs,
	}
	cfg, err := d.config(hostPort(ports[0]), hostPort(ports[1]), serving, ca, opts)
	if err != nil {
		return nil, err
	}
	cfgFile := filepath.Join(dir, "dex.yaml")
	if err := os.WriteFile(cfgFile, cfg, 0o600); err != nil {
		return nil, err
	}
	start := time.Now()
	d.proc, err = startProcess(dir, "dex", filepath.Join(bins.Dex, "dex"), "serve", cfgFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	probe := httpProbe(d.Issuer+"/.well-known/openid-configuration", &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	if err := d.proc.waitReady(ctx, 30*time.Second, probe); err != nil {
		d.Close()
		return nil, err
	}
	d.ReadyAfter = time.Since(start)
	return d, nil
}

func (d *Dex) config(listen, telemetry string, serving KeyPair, ca *CA, opts DexOptions) ([]byte, error) {
	var passwords []map[string]any
	for _, u := range opts.Users {
		hash, err := bcrypt.GenerateFromPassword([]byte(u.Password), bcrypt.DefaultCost) // Dex refuses cost < 10
		if err != nil {
			return nil, err
		}
		passwords = append(passwords, map[string]any{
			"email": u.Email, "hash": string(hash), "username": u.Username, "preferredUsername": u.Username,
			"name": u.Username, "emailVerified": true, "userID": u.Username + "-id", "groups": u.Groups,
		})
	}
	cfg := map[string]any{
		"issuer":    d.Issuer,
		"storage":   map[string]any{"type": "memory"},
		"web":       map[string]any{"https": listen, "tlsCert": serving.CertFile, "tlsKey": serving.KeyFile},
		"telemetry": map[string]any{"http": telemetry},
		"logger":    map[string]any{"level": "info", "format": "text"},
		"oauth2": map[string]any{
			"skipApprovalScreen": true, "responseTypes": []string{"code"},
			"grantTypes":        []string{"authorization_code", "refresh_token", "password"},
			"passwordConnector": "local",
		},
		"expiry": map[string]any{"idTokens": "10m"},
		"signer": map[string]any{"type": "local", "config": map[string]any{"keysRotationPeriod": "6h"}},
		"staticClients": []map[string]any{{
			"id": d.ClientID, "name": "Selkie supervisor", "secret": d.ClientSecret, "redirectURIs": d.RedirectURIs,
		}},
		"enablePasswordDB": true,
		"staticPasswords":  passwords,
	}
	if l := opts.LDAP; l != nil {
		cfg["connectors"] = []map[string]any{{
			"type": "ldap", "id": "ldap", "name": "OpenLDAP",
			"config": map[string]any{
				"host": l.LDAPSAddr, "rootCA": ca.CertFile, "bindDN": l.AdminDN, "bindPW": l.AdminPassword,
				"usernamePrompt": "Username",
				"userSearch": map[string]any{
					"baseDN": l.UsersDN, "filter": "(objectClass=inetOrgPerson)", "username": "uid", "idAttr": "uid",
					"emailAttr": "mail", "nameAttr": "cn", "preferredUsernameAttr": "uid",
				},
				"groupSearch": map[string]any{
					"baseDN": l.GroupsDN, "filter": "(objectClass=groupOfNames)", "nameAttr": "cn",
					"userMatchers": []map[string]any{{"userAttr": "DN", "groupAttr": "member"}},
				},
			},
		}}
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("dex config: %w", err)
	}
	return out, nil
}

// Process returns Dex's process.
func (d *Dex) Process() *Process { return d.proc }

// Close stops Dex by PID.
func (d *Dex) Close() {
	if d != nil {
		d.proc.Stop()
	}
}
