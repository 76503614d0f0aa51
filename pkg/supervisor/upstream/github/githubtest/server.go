// SPDX-License-Identifier: Apache-2.0

package githubtest

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/selkie-dev/selkie/pkg/certauthority"
)

// Team is a team membership of a user.
type Team struct {
	Org, Name, Slug string
}

// User is a GitHub user.
type User struct {
	Login string
	ID    int64
	Orgs  []string
	Teams []Team
}

// Default client credentials of a Server.
const (
	ClientID     = "gh-client-id"
	ClientSecret = "gh-client-secret"
)

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	srv   *httptest.Server
	caPEM []byte

	mu         sync.Mutex
	users      map[int64]*User
	loginAs    int64
	pageSize   int
	codes      map[string]grant
	tokens     map[string]int64
	revoked    []string
	authorizes []string
	failures   map[string]int
	issued     []string
}

// grant is an authorization code not yet redeemed.
type grant struct {
	userID      int64
	redirectURI string
}

// Start runs a fake on 127.0.0.1 until tb ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	ca, err := certauthority.New("githubtest-ca", 24*time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	kp, err := ca.IssueServingCert([]string{"127.0.0.1", "localhost"}, 24*time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{caPEM: ca.CertPEM(), users: map[int64]*User{}, codes: map[string]grant{},
		tokens: map[string]int64{}, failures: map[string]int{}}
	s.srv = httptest.NewUnstartedServer(s.routes())
	s.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // expected TLS failures
	s.srv.StartTLS()
	tb.Cleanup(s.srv.Close)
	return s
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", s.authorize)
	mux.HandleFunc("POST /login/oauth/access_token", s.accessToken)
	mux.HandleFunc("GET /api/v3", s.root)
	mux.HandleFunc("GET /api/v3/{$}", s.root)
	mux.HandleFunc("GET /api/v3/user", s.user)
	mux.HandleFunc("GET /api/v3/user/orgs", s.orgs)
	mux.HandleFunc("GET /api/v3/user/teams", s.teams)
	mux.HandleFunc("DELETE /api/v3/applications/{client}/token", s.deleteToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		status := s.failures[r.URL.Path]
		s.mu.Unlock()
		if status != 0 {
			writeJSON(w, status, map[string]any{"message": http.StatusText(status)})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// URL is the base URL, https://127.0.0.1:<port>.
func (s *Server) URL() string { return s.srv.URL }

// Host is the value for spec.githubAPI.host: 127.0.0.1:<port>.
func (s *Server) Host() string { return strings.TrimPrefix(s.srv.URL, "https://") }

// APIBase is the REST API base URL, <URL>/api/v3.
func (s *Server) APIBase() string { return s.srv.URL + "/api/v3" }

// CAPEM is the PEM of the CA that signed the serving certificate.
func (s *Server) CAPEM() []byte { return s.caPEM }

// AddUser adds or replaces the user with u.ID.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := u
	s.users[u.ID] = &c
}

// LoginAs makes the authorize endpoint log in the user with login; "" makes it
// answer error=access_denied, as GitHub does when the user cancels.
func (s *Server) LoginAs(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loginAs = 0
	if u := s.byLogin(login); u != nil {
		s.loginAs = u.ID
	}
}

// SetTeams replaces the teams of the user with login.
func (s *Server) SetTeams(login string, teams ...Team) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.byLogin(login); u != nil {
		u.Teams = teams
	}
}

// SetOrgs replaces the organizations of the user with login.
func (s *Server) SetOrgs(login string, orgs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.byLogin(login); u != nil {
		u.Orgs = orgs
	}
}

// Rename changes the login of a user; the ID stays.
func (s *Server) Rename(login, newLogin string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.byLogin(login); u != nil {
		u.Login = newLogin
	}
}

// SetPageSize caps the page size of list endpoints below GitHub's 100; 0 means no cap.
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = n
}

// Fail makes every request to path (e.g. "/api/v3/user/teams") answer status;
// 0 restores the endpoint.
func (s *Server) Fail(path string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[path] = status
}

// Revoked returns the access tokens revoked through the API, in order.
func (s *Server) Revoked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.revoked...)
}

// AuthorizeQueries returns the raw queries of the authorize requests, in order.
func (s *Server) AuthorizeQueries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.authorizes...)
}

// Secrets returns every code and token handed out plus the client secret, for
// tests that check that none of them leaks.
func (s *Server) Secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{ClientSecret}, s.issued...)
}

// byLogin finds a user case-insensitively, as GitHub does; s.mu must be held.
func (s *Server) byLogin(login string) *User {
	for _, u := range s.users {
		if login != "" && strings.EqualFold(u.Login, login) {
			return u
		}
	}
	return nil
}

// random returns a new secret with prefix and records it; s.mu must be held.
func (s *Server) random(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	v := prefix + hex.EncodeToString(b)
	s.issued = append(s.issued, v)
	return v
}
