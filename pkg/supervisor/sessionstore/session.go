// SPDX-License-Identifier: Apache-2.0

package sessionstore

import (
	"context"
	"errors"
	"time"
)

// Errors every Store returns (possibly wrapped), checked with errors.Is.
var (
	ErrNotFound      = errors.New("session not found")
	ErrAlreadyExists = errors.New("session already exists")
	// ErrConflict is an Update or Delete of a session that changed since it was read.
	ErrConflict = errors.New("session changed concurrently")
)

// Session is one downstream login. The provider creates it when it issues an
// authorization code (or completes a CLI password login), or earlier, without an
// identity, for a device authorization (DeviceGrant); every token issued from the login
// names it. It ends at Expires or when deleted (revocation, refresh-token replay).
type Session struct {
	// ID is chosen by the caller: 26 characters of lower-case base32, so that it fits
	// in Kubernetes object names and labels.
	ID string
	// ResourceVersion is set by the store on every read and write; Update and Delete
	// with a stale one fail with ErrConflict. Empty on Create.
	ResourceVersion string

	// Issuer is the FederationDomain's issuer; ClientID the downstream client.
	Issuer   string
	ClientID string
	// GrantedScopes are the scopes granted at login.
	GrantedScopes []string
	// RedirectURI, Nonce and CodeChallenge (PKCE S256) belong to the authorization
	// request and are checked when the code is redeemed.
	RedirectURI   string
	Nonce         string
	CodeChallenge string

	// AuthTime is when the user logged in; Expires when the session ends (its
	// refresh tokens stop working and the garbage collector may delete it).
	AuthTime time.Time
	Expires  time.Time

	// IdP is the upstream identity provider the user logged in with.
	IdP IdP
	// Subject, Username, Groups and AdditionalClaims are the downstream identity, after
	// the FederationDomain's transforms.
	Subject          string
	Username         string
	Groups           []string
	AdditionalClaims map[string]any
	// UpstreamUsername and UpstreamGroups are the identity before the transforms, which
	// run again at every refresh.
	UpstreamUsername string
	UpstreamGroups   []string
	// UpstreamSubject is the upstream's own identifier for the user.
	UpstreamSubject string
	// UpstreamData is the IdP's opaque data (upstream tokens). Stores that persist
	// sessions seal it (AES-256-GCM, the session ID as additional data); it is never
	// logged or written in the clear.
	UpstreamData []byte

	// Code is the authorization code, while it exists.
	Code *Token
	// AccessTokens are the live access tokens.
	AccessTokens []Token
	// RefreshToken is the current refresh token; UsedRefreshTokens the hashes of the
	// ones it replaced, so that a replay can be recognised (and the session ended).
	RefreshToken      *Token
	UsedRefreshTokens [][]byte

	// DeviceGrant is the RFC 8628 device authorization this session was created for,
	// until the device collects its tokens; nil for every other login.
	DeviceGrant *DeviceGrant
}

// Device grant states: the user has not finished logging in yet, has logged in (the
// session then holds the identity), or the login failed.
const (
	DeviceGrantPending  = "pending"
	DeviceGrantApproved = "approved"
	DeviceGrantDenied   = "denied"
)

// DeviceGrant is a device authorization (RFC 8628) waiting to be approved in a browser
// and collected by the device polling the token endpoint.
type DeviceGrant struct {
	// Status is DeviceGrantPending, DeviceGrantApproved or DeviceGrantDenied.
	Status string
	// CodeHash is the keyed hash of the device code's secret part, never the code.
	CodeHash []byte
	// Expires is when the device code and the user code stop working.
	Expires time.Time
	// Interval is the minimum time between two polls; LastPoll the time of the last one.
	Interval time.Duration
	LastPoll time.Time
}

// IdP names the upstream identity provider of a session.
type IdP struct {
	// DisplayName is its name in the FederationDomain.
	DisplayName string
	// Type is upstream.TypeOIDC and so on; Kind, Name and UID identify the resource.
	Type string
	Kind string
	Name string
	UID  string
}

// Token is the stored form of one issued token: a keyed hash of its secret part, never
// the token itself.
type Token struct {
	Hash    []byte
	Expires time.Time
	// Used marks an authorization code that was redeemed.
	Used bool
}

// ListOptions filters List. Zero fields match everything.
type ListOptions struct {
	Issuer   string
	Username string
	// ExpiredBefore, when set, matches only sessions whose Expires is before it.
	ExpiredBefore time.Time
}

// Store persists sessions. Implementations are safe for concurrent use, including by
// several supervisor processes sharing one backend.
type Store interface {
	// Create stores a new session; ErrAlreadyExists if the ID is taken.
	Create(ctx context.Context, s *Session) error
	// Get returns a copy of the session; ErrNotFound if there is none.
	Get(ctx context.Context, id string) (*Session, error)
	// Update replaces the session if its ResourceVersion is current (ErrConflict
	// otherwise, ErrNotFound if it is gone) and sets the new ResourceVersion in s.
	Update(ctx context.Context, s *Session) error
	// Delete removes the session; with a non-empty resourceVersion only if it is
	// current. Deleting a missing session returns ErrNotFound.
	Delete(ctx context.Context, id, resourceVersion string) error
	// List returns copies of the matching sessions, in no particular order.
	List(ctx context.Context, opts ListOptions) ([]*Session, error)
}
