// SPDX-License-Identifier: Apache-2.0

package ldap_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	ldapv3 "github.com/go-ldap/ldap/v3"

	upstreamldap "github.com/selkie-dev/selkie/pkg/supervisor/upstream/ldap"
)

// fakeDir is an in-memory directory behind the provider's Conn interface. It
// evaluates filters itself (AND, OR, NOT, equality, presence and substrings, with
// RFC 4515 escapes, and Active Directory's LDAP_MATCHING_RULE_IN_CHAIN extensible
// match), so that an unescaped value would change what matches, and it records what
// the provider asked for. An entry with the empty DN is the root DSE.
type fakeDir struct {
	mu        sync.Mutex
	entries   []*ldapv3.Entry
	passwords map[string]string // DN → password
	// dialErr fails every dial with this protocol ("" for all).
	dialErr      error
	dialErrProto upstreamldap.Protocol

	dials    []upstreamldap.Endpoint
	binds    []string // DNs
	searches []*ldapv3.SearchRequest
}

func newFakeDir() *fakeDir { return &fakeDir{passwords: map[string]string{}} }

// add stores an entry; a "userPassword" attribute becomes its bind password.
func (d *fakeDir) add(dn string, attrs map[string][]string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if pw, ok := attrs["userPassword"]; ok {
		d.passwords[dn] = pw[0]
	}
	d.entries = append(d.entries, ldapv3.NewEntry(dn, attrs))
}

func (d *fakeDir) remove(dn string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.entries = slices.DeleteFunc(d.entries, func(e *ldapv3.Entry) bool { return e.DN == dn })
}

// setAttr replaces the values of one attribute of the entry at dn.
func (d *fakeDir) setAttr(dn, name string, values ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, e := range d.entries {
		if e.DN != dn {
			continue
		}
		attrs := map[string][]string{}
		for _, a := range e.Attributes {
			attrs[a.Name] = a.Values
		}
		attrs[name] = values
		d.entries[i] = ldapv3.NewEntry(dn, attrs)
	}
}

func (d *fakeDir) dial(_ context.Context, e upstreamldap.Endpoint) (upstreamldap.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dials = append(d.dials, e)
	if d.dialErr != nil && (d.dialErrProto == "" || d.dialErrProto == e.Protocol) {
		return nil, d.dialErr
	}
	return &fakeConn{dir: d}, nil
}

func (d *fakeDir) filters() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, s := range d.searches {
		out = append(out, s.Filter)
	}
	return out
}

type fakeConn struct {
	dir    *fakeDir
	bound  string
	closed bool
}

func (c *fakeConn) Close() error { c.closed = true; return nil }

func (c *fakeConn) Bind(dn, password string) error {
	d := c.dir
	d.mu.Lock()
	defer d.mu.Unlock()
	d.binds = append(d.binds, dn)
	c.bound = ""
	if password == "" {
		return ldapv3.NewError(ldapv3.ErrorEmptyPassword, errors.New("empty password"))
	}
	if want, ok := d.passwords[dn]; !ok || want != password {
		return ldapv3.NewError(ldapv3.LDAPResultInvalidCredentials, errors.New("invalid credentials"))
	}
	c.bound = dn
	return nil
}

func (c *fakeConn) Search(req *ldapv3.SearchRequest) (*ldapv3.SearchResult, error) {
	d := c.dir
	d.mu.Lock()
	defer d.mu.Unlock()
	d.searches = append(d.searches, req)
	if c.closed || c.bound == "" {
		return nil, ldapv3.NewError(ldapv3.LDAPResultInsufficientAccessRights, errors.New("not bound"))
	}
	if _, err := ldapv3.CompileFilter(req.Filter); err != nil { // what the real client does first
		return nil, err
	}
	f, err := parseFilter(req.Filter)
	if err != nil {
		return nil, err
	}
	res := &ldapv3.SearchResult{}
	found := false
	for _, e := range d.entries {
		inScope := e.DN == req.BaseDN
		if req.Scope == ldapv3.ScopeWholeSubtree {
			inScope = inScope || strings.HasSuffix(e.DN, ","+req.BaseDN)
		}
		if !inScope {
			continue
		}
		found = true
		if !f.match(e, d.entries) {
			continue
		}
		if req.SizeLimit > 0 && len(res.Entries) == req.SizeLimit {
			return res, ldapv3.NewError(ldapv3.LDAPResultSizeLimitExceeded, errors.New("size limit exceeded"))
		}
		res.Entries = append(res.Entries, project(e, req.Attributes))
	}
	if req.Scope == ldapv3.ScopeBaseObject && !found {
		return nil, ldapv3.NewError(ldapv3.LDAPResultNoSuchObject, errors.New("no such object"))
	}
	return res, nil
}

// project returns e with only the requested attributes (all for none, none for "1.1").
func project(e *ldapv3.Entry, attrs []string) *ldapv3.Entry {
	out := &ldapv3.Entry{DN: e.DN}
	for _, a := range e.Attributes {
		if a.Name == "userPassword" {
			continue
		}
		if len(attrs) == 0 || slices.ContainsFunc(attrs, func(r string) bool { return strings.EqualFold(r, a.Name) }) {
			out.Attributes = append(out.Attributes, ldapv3.NewEntryAttribute(a.Name, a.Values))
		}
	}
	return out
}

// filter is a parsed RFC 4515 filter.
type filter struct {
	op       byte // '&', '|', '!', '=' (equality or substrings), '*' (presence)
	children []*filter
	attr     string
	// parts are the literal pieces between unescaped '*' of an equality/substring value.
	parts []string
}

func parseFilter(s string) (*filter, error) {
	f, rest, err := parseItem(s)
	if err != nil {
		return nil, err
	}
	if rest != "" {
		return nil, fmt.Errorf("trailing %q after filter", rest)
	}
	return f, nil
}

func parseItem(s string) (*filter, string, error) {
	if !strings.HasPrefix(s, "(") {
		return nil, "", fmt.Errorf("filter %q does not start with (", s)
	}
	s = s[1:]
	if s != "" && strings.ContainsRune("&|!", rune(s[0])) {
		f := &filter{op: s[0]}
		s = s[1:]
		for strings.HasPrefix(s, "(") {
			child, rest, err := parseItem(s)
			if err != nil {
				return nil, "", err
			}
			f.children, s = append(f.children, child), rest
		}
		if !strings.HasPrefix(s, ")") || (f.op == '!' && len(f.children) != 1) {
			return nil, "", fmt.Errorf("bad %c filter", f.op)
		}
		return f, s[1:], nil
	}
	end := strings.IndexByte(s, ')')
	if end < 0 {
		return nil, "", errors.New("unterminated filter item")
	}
	item, rest := s[:end], s[end+1:]
	attr, raw, ok := strings.Cut(item, "=")
	if !ok || attr == "" || strings.ContainsAny(attr, "()*\\") {
		return nil, "", fmt.Errorf("bad filter item %q", item)
	}
	if raw == "*" {
		return &filter{op: '*', attr: attr}, rest, nil
	}
	var parts []string
	for _, piece := range strings.Split(raw, "*") {
		v, err := unescape(piece)
		if err != nil {
			return nil, "", err
		}
		parts = append(parts, v)
	}
	return &filter{op: '=', attr: attr, parts: parts}, rest, nil
}

func unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			if i+2 >= len(s) {
				return "", fmt.Errorf("bad escape in %q", s)
			}
			v, err := hex.DecodeString(s[i+1 : i+3])
			if err != nil {
				return "", fmt.Errorf("bad escape in %q", s)
			}
			b.Write(v)
			i += 2
		case c == '(' || c == ')':
			return "", fmt.Errorf("unescaped %c in value %q", c, s)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func (f *filter) match(e *ldapv3.Entry, all []*ldapv3.Entry) bool {
	switch f.op {
	case '&':
		for _, c := range f.children {
			if !c.match(e, all) {
				return false
			}
		}
		return true
	case '|':
		return slices.ContainsFunc(f.children, func(c *filter) bool { return c.match(e, all) })
	case '!':
		return !f.children[0].match(e, all)
	case '*':
		return len(values(e, f.attr)) > 0
	}
	if attr, ok := strings.CutSuffix(f.attr, ":"+inChainOID+":"); ok && len(f.parts) == 1 {
		return inChain(e, attr, f.parts[0], all, map[string]bool{})
	}
	return slices.ContainsFunc(values(e, f.attr), f.matchValue)
}

// inChainOID is Active Directory's LDAP_MATCHING_RULE_IN_CHAIN.
const inChainOID = "1.2.840.113556.1.4.1941"

// inChain reports whether dn is a value of attr of e, directly or through entries
// that are themselves values of attr (transitive group membership).
func inChain(e *ldapv3.Entry, attr, dn string, all []*ldapv3.Entry, seen map[string]bool) bool {
	seen[strings.ToLower(e.DN)] = true
	for _, v := range values(e, attr) {
		if strings.EqualFold(v, dn) {
			return true
		}
		for _, next := range all {
			if strings.EqualFold(next.DN, v) && !seen[strings.ToLower(next.DN)] && inChain(next, attr, dn, all, seen) {
				return true
			}
		}
	}
	return false
}

// matchValue matches one value, case-insensitively (like caseIgnoreMatch).
func (f *filter) matchValue(v string) bool {
	v = strings.ToLower(v)
	if len(f.parts) == 1 {
		return v == strings.ToLower(f.parts[0])
	}
	first, last := strings.ToLower(f.parts[0]), strings.ToLower(f.parts[len(f.parts)-1])
	if !strings.HasPrefix(v, first) || !strings.HasSuffix(v, last) || len(v) < len(first)+len(last) {
		return false
	}
	v = v[len(first) : len(v)-len(last)]
	for _, p := range f.parts[1 : len(f.parts)-1] {
		i := strings.Index(v, strings.ToLower(p))
		if i < 0 {
			return false
		}
		v = v[i+len(p):]
	}
	return true
}

// values are the entry's values of attr (matched case-insensitively, like a server),
// with "objectClass" and the DN attribute types handled like any other.
func values(e *ldapv3.Entry, attr string) []string {
	for _, a := range e.Attributes {
		if strings.EqualFold(a.Name, attr) {
			return a.Values
		}
	}
	return nil
}
