// SPDX-License-Identifier: Apache-2.0

package env

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
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
	// opts are the options Dex last ran with, for RestartAfter.
	opts DexOptions
	// etcd is the storage of a persistent Dex.
	etcd *Process
	// What Restart needs to start Dex again on the same ports with the same keys.
	bins              Binaries
	dir               string
	ca                *CA
	serving           KeyPair
	listen, telemetry string
	etcdURL           string
}

// DexOptions configures StartDex.
type DexOptions struct {
	// Users are the static password-database users; each gets its groups in the ID token.
	Users []User
	// RedirectURIs are registered for the supervisor client.
	RedirectURIs []string
	// LDAP, when set, adds an "ldap" connector backed by that directory.
	LDAP *LDAP
	// ListenIP is the address Dex listens on and its issuer names; empty means
	// 127.0.0.1. The environment gives the host's bridge address, so pods reach Dex.
	ListenIP string
	// Persistent keeps Dex's state (refresh tokens, signing keys) in an etcd of its
	// own, so that it survives Restart; otherwise Dex keeps it in memory.
	Persistent bool
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
	ip := opts.ListenIP
	if ip == "" {
		ip = "127.0.0.1"
	}
	serving, err := ca.Issue("dex", ServerAuth, "dex", nil, "127.0.0.1", "localhost", ip)
	if err != nil {
		return nil, err
	}
	listen := net.JoinHostPort(ip, strconv.Itoa(ports[0]))
	d := &Dex{
		Issuer:       "https://" + listen + "/dex",
		ClientID:     "selkie-supervisor",
		ClientSecret: randomString(24),
		RedirectURIs: opts.RedirectURIs,
		bins:         bins, dir: dir, ca: ca, serving: serving, listen: listen, telemetry: hostPort(ports[1]),
	}
	start := time.Now()
	if opts.Persistent {
		if err := d.startEtcd(ctx); err != nil {
			return nil, err
		}
	}
	if err := d.run(ctx, opts); err != nil {
		d.Close()
		return nil, err
	}
	d.ReadyAfter = time.Since(start)
	return d, nil
}

// run writes Dex's configuration for opts and starts it.
func (d *Dex) run(ctx context.Context, opts DexOptions) error {
	cfg, err := d.config(d.listen, d.telemetry, d.serving, d.ca, opts)
	if err != nil {
		return err
	}
	cfgFile := filepath.Join(d.dir, "dex.yaml")
	if err := os.WriteFile(cfgFile, cfg, 0o600); err != nil {
		return err
	}
	d.opts = opts
	if d.proc, err = StartProcess(d.dir, "dex", filepath.Join(d.bins.Dex, "dex"), "serve", cfgFile); err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(d.ca.CertPEM)
	probe := httpProbe(d.Issuer+"/.well-known/openid-configuration", &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	return d.proc.waitReady(ctx, 30*time.Second, probe)
}

// startEtcd starts the etcd that keeps a persistent Dex's state.
func (d *Dex) startEtcd(ctx context.Context) error {
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	d.etcdURL = "http://" + hostPort(ports[0])
	peer := "http://" + hostPort(ports[1])
	d.etcd, err = StartProcess(d.dir, "dex-etcd", filepath.Join(d.bins.ControlPlane, "etcd"), "--name=dex",
		"--data-dir="+filepath.Join(d.dir, "etcd"), "--listen-client-urls="+d.etcdURL, "--advertise-client-urls="+d.etcdURL,
		"--listen-peer-urls="+peer, "--initial-advertise-peer-urls="+peer, "--initial-cluster=dex="+peer)
	if err != nil {
		return err
	}
	return d.etcd.waitReady(ctx, 60*time.Second, httpProbe(d.etcdURL+"/health", nil))
}

// Restart stops Dex and starts it again with opts (the users, say) on the same address,
// serving certificate and client. Only a Persistent Dex keeps its refresh tokens.
func (d *Dex) Restart(ctx context.Context, opts DexOptions) error {
	d.proc.Stop()
	if err := d.run(ctx, opts); err != nil {
		return errPeer("dex", err)
	}
	return nil
}

// RestartAfter stops Dex, keeps it away for down and starts it again as it last ran: an
// outage of the upstream identity provider, which the tests inject. Only a Persistent
// Dex keeps its refresh tokens across it.
func (d *Dex) RestartAfter(ctx context.Context, down time.Duration) error {
	d.proc.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(down):
	}
	return d.Restart(ctx, d.opts)
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
		"storage":   d.storage(),
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

func (d *Dex) storage() map[string]any {
	if d.etcdURL == "" {
		return map[string]any{"type": "memory"}
	}
	return map[string]any{"type": "etcd", "config": map[string]any{"endpoints": []string{d.etcdURL}, "namespace": "dex/"}}
}

// Process returns Dex's process.
func (d *Dex) Process() *Process { return d.proc }

// Close stops Dex by PID.
func (d *Dex) Close() {
	if d == nil {
		return
	}
	if d.proc != nil {
		d.proc.Stop()
	}
	if d.etcd != nil {
		d.etcd.Stop()
	}
}
