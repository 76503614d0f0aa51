// SPDX-License-Identifier: Apache-2.0

package env

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// LDAP is a running OpenLDAP slapd seeded with the environment's users and groups:
// every user in ou=users, groupOfNames groups (member = user DN) and posixGroup groups
// (memberUid = uid) in ou=groups, with the memberof overlay filling memberOf.
// Simple binds are refused unless the connection is TLS (StartTLS or LDAPS).
type LDAP struct {
	// StartTLSAddr serves ldap:// with StartTLS; LDAPSAddr serves ldaps://.
	StartTLSAddr, LDAPSAddr string
	// BaseDN, UsersDN and GroupsDN locate the seeded entries.
	BaseDN, UsersDN, GroupsDN string
	// AdminDN and AdminPassword are the directory's root credentials (for bind Secrets).
	AdminDN, AdminPassword string
	// ReadyAfter is the time from start to answering a root DSE search.
	ReadyAfter time.Duration

	proc *Process
	tls  *tls.Config
}

// LDAPGroup is a group to seed: groupOfNames unless Posix is set.
type LDAPGroup struct {
	Name    string
	Members []string // uids of users
	Posix   bool
}

// LDAPOptions changes the directory StartLDAPWith starts. The zero value is the
// environment's directory (StartLDAP without users or groups).
type LDAPOptions struct {
	// BaseDN is the database suffix; default "dc=example,dc=com". UsersDN and GroupsDN
	// are ou=users and ou=groups under it, AdminDN cn=admin.
	BaseDN string
	// Schema is extra schema in slapd.conf syntax (attributetype, objectclass), loaded
	// after core, cosine, inetorgperson and nis.
	Schema string
	// RootDSE is LDIF ("dn:" then attributes) of extra root DSE attributes; their types
	// must be defined (see Schema).
	RootDSE string
	// ListenIPs are addresses slapd listens on besides 127.0.0.1, on the same ports
	// (the environment gives the host's bridge address, so pods reach slapd).
	ListenIPs []string
	// Seed adds the entries over a StartTLS connection bound as the admin; nil adds
	// only the base entry and ou=users and ou=groups.
	Seed func(l *LDAP, conn *ldap.Conn) error
}

// StartLDAP writes a slapd config under dir, starts slapd on two free loopback ports
// with a server certificate from ca, and seeds it over StartTLS.
func StartLDAP(ctx context.Context, dir string, ca *CA, users []User, groups []LDAPGroup) (*LDAP, error) {
	return StartLDAPWith(ctx, dir, ca, LDAPOptions{Seed: func(l *LDAP, conn *ldap.Conn) error { return l.seed(conn, users, groups) }})
}

// StartLDAPWith is StartLDAP for another directory: its own suffix, schema, root DSE
// attributes and entries (see LDAPOptions). Each call is a separate slapd.
func StartLDAPWith(ctx context.Context, dir string, ca *CA, opts LDAPOptions) (*LDAP, error) {
	l, err := startLDAP(ctx, dir, ca, opts)
	return l, errPeer("slapd", err)
}

func startLDAP(ctx context.Context, dir string, ca *CA, opts LDAPOptions) (*LDAP, error) {
	slapd, err := exec.LookPath("slapd")
	if err != nil {
		slapd = "/usr/sbin/slapd" // Debian installs it outside a normal user's PATH
		if _, statErr := os.Stat(slapd); statErr != nil {
			return nil, fmt.Errorf("slapd is not installed (run hack/install-deps.sh): %w", err)
		}
	}
	dataDir := filepath.Join(dir, "data")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	serving, err := ca.Issue("slapd", ServerAuth, "slapd", nil, append([]string{"127.0.0.1", "localhost"}, opts.ListenIPs...)...)
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	base := opts.BaseDN
	if base == "" {
		base = "dc=example,dc=com"
	}
	l := &LDAP{
		StartTLSAddr: hostPort(ports[0]), LDAPSAddr: hostPort(ports[1]),
		BaseDN: base, UsersDN: "ou=users," + base, GroupsDN: "ou=groups," + base,
		AdminDN: "cn=admin," + base, AdminPassword: randomString(16),
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	l.tls = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}

	extra, err := writeExtraConf(dir, opts)
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(conf, []byte(l.slapdConf(dataDir, ca, serving, extra)), 0o600); err != nil {
		return nil, err
	}
	start := time.Now()
	// -d 0 keeps slapd in the foreground, so the PID we hold is slapd's own.
	urls := "ldap://" + l.StartTLSAddr + "/ ldaps://" + l.LDAPSAddr + "/"
	for _, ip := range opts.ListenIPs {
		urls += " ldap://" + net.JoinHostPort(ip, strconv.Itoa(ports[0])) + "/ ldaps://" + net.JoinHostPort(ip, strconv.Itoa(ports[1])) + "/"
	}
	l.proc, err = StartProcess(dir, "slapd", slapd, "-f", conf, "-h", urls, "-d", "0")
	if err != nil {
		return nil, err
	}
	if err := l.proc.waitReady(ctx, 30*time.Second, l.probe); err != nil {
		l.Close()
		return nil, err
	}
	l.ReadyAfter = time.Since(start)
	if err := l.seedWith(opts.Seed); err != nil {
		l.Close()
		return nil, fmt.Errorf("seed directory: %w", err)
	}
	return l, nil
}

// writeExtraConf writes the extra schema and root DSE files of opts under dir and
// returns the slapd.conf lines that load them.
func writeExtraConf(dir string, opts LDAPOptions) ([]string, error) {
	var lines []string
	if opts.Schema != "" {
		f := filepath.Join(dir, "extra.schema")
		if err := os.WriteFile(f, []byte(opts.Schema), 0o600); err != nil {
			return nil, err
		}
		lines = append(lines, "include "+f)
	}
	if opts.RootDSE != "" {
		f := filepath.Join(dir, "rootdse.ldif")
		if err := os.WriteFile(f, []byte(opts.RootDSE), 0o600); err != nil {
			return nil, err
		}
		lines = append(lines, "rootDSE "+f)
	}
	return lines, nil
}

func (l *LDAP) slapdConf(dataDir string, ca *CA, serving KeyPair, extra []string) string {
	lines := []string{
		"include /etc/ldap/schema/core.schema",
		"include /etc/ldap/schema/cosine.schema",
		"include /etc/ldap/schema/inetorgperson.schema",
		"include /etc/ldap/schema/nis.schema",
	}
	lines = append(lines, extra...)
	lines = append(lines,
		"modulepath /usr/lib/ldap",
		"moduleload back_mdb",
		"moduleload memberof",
		"pidfile "+filepath.Join(filepath.Dir(dataDir), "slapd.pid"),
		"TLSCACertificateFile "+ca.CertFile,
		"TLSCertificateFile "+serving.CertFile,
		"TLSCertificateKeyFile "+serving.KeyFile,
		"# Simple binds only over TLS (StartTLS or LDAPS); anonymous root DSE reads stay allowed.",
		"security simple_bind=128",
		"database mdb",
		"maxsize 104857600",
		`suffix "`+l.BaseDN+`"`,
		`rootdn "`+l.AdminDN+`"`,
		"rootpw "+ssha(l.AdminPassword),
		"directory "+dataDir,
		"index objectClass eq",
		"index uid,cn,mail,memberUid eq",
		"index member eq",
		"overlay memberof",
		"access to attrs=userPassword by self write by anonymous auth by * none",
		"access to * by users read by * none",
	)
	return strings.Join(lines, "\n") + "\n"
}

func (l *LDAP) probe(context.Context) error {
	conn, err := ldap.DialURL("ldap://" + l.StartTLSAddr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 2, false,
		"(objectClass=*)", []string{"namingContexts"}, nil))
	return err
}

// Dial opens a StartTLS connection trusting the environment's CA.
func (l *LDAP) Dial() (*ldap.Conn, error) {
	conn, err := ldap.DialURL("ldap://" + l.StartTLSAddr)
	if err != nil {
		return nil, err
	}
	if err := conn.StartTLS(l.tls.Clone()); err != nil {
		conn.Close()
		return nil, fmt.Errorf("StartTLS: %w", err)
	}
	return conn, nil
}

// UserDN is the DN of the seeded user with this uid.
func (l *LDAP) UserDN(uid string) string { return "uid=" + ldap.EscapeDN(uid) + "," + l.UsersDN }

// seedWith binds as the admin and runs seed (nil: the base entries only).
func (l *LDAP) seedWith(seed func(*LDAP, *ldap.Conn) error) error {
	conn, err := l.Dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Bind(l.AdminDN, l.AdminPassword); err != nil {
		return fmt.Errorf("bind as admin: %w", err)
	}
	if seed == nil {
		return l.AddAll(conn, l.BaseEntries())
	}
	return seed(l, conn)
}

// BaseEntries are the base entry (dcObject, its dc the first RDN value of BaseDN),
// ou=users and ou=groups.
func (l *LDAP) BaseEntries() []*ldap.AddRequest {
	dc, _, _ := strings.Cut(strings.TrimPrefix(strings.ToLower(l.BaseDN), "dc="), ",")
	return []*ldap.AddRequest{
		addRequest(l.BaseDN, map[string][]string{"objectClass": {"dcObject", "organization"}, "o": {dc}, "dc": {dc}}),
		addRequest(l.UsersDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"users"}}),
		addRequest(l.GroupsDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"groups"}}),
	}
}

// AddAll adds the entries in order.
func (l *LDAP) AddAll(conn *ldap.Conn, adds []*ldap.AddRequest) error {
	for _, a := range adds {
		if err := conn.Add(a); err != nil {
			return fmt.Errorf("add %s: %w", a.DN, err)
		}
	}
	return nil
}

func (l *LDAP) seed(conn *ldap.Conn, users []User, groups []LDAPGroup) error {
	adds := []*ldap.AddRequest{
		addRequest(l.BaseDN, map[string][]string{"objectClass": {"dcObject", "organization"}, "o": {"Example"}, "dc": {"example"}}),
		addRequest(l.UsersDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"users"}}),
		addRequest(l.GroupsDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"groups"}}),
	}
	for i, u := range users {
		id := strconv.Itoa(1000 + i)
		adds = append(adds, addRequest(l.UserDN(u.Username), map[string][]string{
			"objectClass": {"inetOrgPerson", "posixAccount"}, "uid": {u.Username}, "cn": {u.Username}, "sn": {u.Username},
			"mail": {u.Username + ".ldap@example.com"}, "uidNumber": {id}, "gidNumber": {id},
			"homeDirectory": {"/home/" + u.Username}, "userPassword": {ssha(u.Password)},
		}))
	}
	for i, g := range groups {
		dn := "cn=" + ldap.EscapeDN(g.Name) + "," + l.GroupsDN
		if g.Posix {
			adds = append(adds, addRequest(dn, map[string][]string{
				"objectClass": {"posixGroup"}, "cn": {g.Name}, "gidNumber": {strconv.Itoa(2000 + i)}, "memberUid": g.Members,
			}))
			continue
		}
		var members []string
		for _, m := range g.Members {
			members = append(members, l.UserDN(m))
		}
		adds = append(adds, addRequest(dn, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {g.Name}, "member": members}))
	}
	return l.AddAll(conn, adds)
}

func addRequest(dn string, attrs map[string][]string) *ldap.AddRequest {
	a := ldap.NewAddRequest(dn, nil)
	for k, v := range attrs {
		a.Attribute(k, v)
	}
	return a
}

// ssha hashes a password the way slapd's {SSHA} scheme checks it.
func ssha(password string) string {
	salt := make([]byte, 8)
	_, _ = rand.Read(salt)
	h := sha1.New()
	h.Write([]byte(password))
	h.Write(salt)
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h.Sum(nil), salt...))
}

// Restart stops slapd, keeps it away for down and starts it again on the same addresses
// with the same directory: a fault the tests inject.
func (l *LDAP) Restart(ctx context.Context, down time.Duration) error {
	next, err := l.proc.Respawn(ctx, down, 30*time.Second, l.probe)
	if next != nil {
		l.proc = next
	}
	if err != nil {
		return errPeer("slapd", err)
	}
	return nil
}

// Process returns slapd's process.
func (l *LDAP) Process() *Process { return l.proc }

// Close stops slapd by PID.
func (l *LDAP) Close() {
	if l != nil {
		l.proc.Stop()
	}
}
