// SPDX-License-Identifier: Apache-2.0

package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// authorize logs in the configured user and redirects back at once.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authorizes = append(s.authorizes, r.URL.RawQuery)
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if q.Get("client_id") != ClientID || err != nil || redirect.Scheme == "" {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	back := redirect.Query()
	back.Set("state", q.Get("state"))
	if s.loginAs == 0 {
		back.Set("error", "access_denied")
		back.Set("error_description", "The user has denied your application access.")
	} else {
		code := s.random("code_")
		s.codes[code] = grant{userID: s.loginAs, redirectURI: redirect.String()}
		back.Set("code", code)
	}
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound) //nolint:gosec // G710: a test double of GitHub redirecting to the client's redirect URI.
}

// accessToken redeems a code. Like GitHub it answers errors with 200 and an
// "error" field, and answers form-encoded unless JSON is accepted.
func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	resp := s.redeem(r.PostForm)
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, http.StatusOK, resp)
		return
	}
	form := url.Values{}
	for k, v := range resp {
		form.Set(k, v)
	}
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	_, _ = w.Write([]byte(form.Encode()))
}

func (s *Server) redeem(form url.Values) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if form.Get("client_id") != ClientID || form.Get("client_secret") != ClientSecret {
		return map[string]string{"error": "incorrect_client_credentials",
			"error_description": "The client_id and/or client_secret passed are incorrect."}
	}
	g, ok := s.codes[form.Get("code")]
	if !ok {
		return map[string]string{"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."}
	}
	delete(s.codes, form.Get("code"))
	if ru := form.Get("redirect_uri"); ru != "" && ru != g.redirectURI {
		return map[string]string{"error": "redirect_uri_mismatch",
			"error_description": "The redirect_uri MUST match the registered callback URL for this application."}
	}
	token := s.random("gho_")
	s.tokens[token] = g.userID
	return map[string]string{"access_token": token, "token_type": "bearer", "scope": "read:org,read:user"}
}

func (s *Server) root(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"current_user_url": s.APIBase() + "/user"})
}

// authenticated returns the user of the request's token, or writes 401.
func (s *Server) authenticated(w http.ResponseWriter, r *http.Request) (User, bool) {
	auth := r.Header.Get("Authorization")
	token := strings.TrimPrefix(strings.TrimPrefix(auth, "Bearer "), "token ")
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.tokens[token]; ok && token != auth {
		if u, ok := s.users[id]; ok {
			return *u, true
		}
	}
	writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials",
		"documentation_url": "https://docs.github.com/rest"})
	return User{}, false
}

func (s *Server) user(w http.ResponseWriter, r *http.Request) {
	u, ok := s.authenticated(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"login": u.Login, "id": u.ID, "node_id": fmt.Sprintf("U_%d", u.ID),
		"type": "User", "site_admin": false, "url": s.APIBase() + "/users/" + u.Login})
}

func (s *Server) orgs(w http.ResponseWriter, r *http.Request) {
	u, ok := s.authenticated(w, r)
	if !ok {
		return
	}
	items := make([]any, 0, len(u.Orgs))
	for i, o := range u.Orgs {
		items = append(items, map[string]any{"login": o, "id": 1000 + i, "url": s.APIBase() + "/orgs/" + o})
	}
	s.writePage(w, r, items)
}

func (s *Server) teams(w http.ResponseWriter, r *http.Request) {
	u, ok := s.authenticated(w, r)
	if !ok {
		return
	}
	items := make([]any, 0, len(u.Teams))
	for i, t := range u.Teams {
		items = append(items, map[string]any{"id": 2000 + i, "name": t.Name, "slug": t.Slug,
			"organization": map[string]any{"login": t.Org}})
	}
	s.writePage(w, r, items)
}

// writePage writes the requested page of items with GitHub's Link header.
func (s *Server) writePage(w http.ResponseWriter, r *http.Request, items []any) {
	q := r.URL.Query()
	perPage, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || perPage <= 0 {
		perPage = 30
	}
	perPage = min(perPage, 100)
	s.mu.Lock()
	if s.pageSize > 0 {
		perPage = min(perPage, s.pageSize)
	}
	s.mu.Unlock()
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page <= 0 {
		page = 1
	}
	last := max(1, (len(items)+perPage-1)/perPage)
	link := func(p int, rel string) string {
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(perPage))
		return fmt.Sprintf(`<%s%s?%s>; rel="%s"`, s.URL(), r.URL.Path, q.Encode(), rel)
	}
	var links []string
	if page > 1 {
		links = append(links, link(page-1, "prev"))
	}
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	start := min((page-1)*perPage, len(items))
	writeJSON(w, http.StatusOK, items[start:min(start+perPage, len(items))])
}

// deleteToken revokes an access token (DELETE /applications/{client_id}/token).
func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok || id != ClientID || secret != ClientSecret || r.PathValue("client") != ClientID {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.AccessToken == "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Validation Failed"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tokens[body.AccessToken]; !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	delete(s.tokens, body.AccessToken)
	s.revoked = append(s.revoked, body.AccessToken)
	w.WriteHeader(http.StatusNoContent)
}
