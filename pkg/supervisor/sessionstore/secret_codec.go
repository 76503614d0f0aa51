// SPDX-License-Identifier: Apache-2.0

package sessionstore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SessionSecretType is the type of the Secrets that hold sessions, one per session,
// named "selkie-session-<ID>".
//
// Data "version" is the format version ("1"); data "session" is the session as JSON
// (field names fixed by this file, not by the Go names of Session) with UpstreamData
// replaced by "sealedUpstreamData", its sealed form (additional data: the session ID,
// so sealed data cannot be moved to another session). Labels carry
// storage.selkie.dev/type=session and the first 32 hex characters of the SHA-256 of
// the issuer and of the username (never the username: labels are not secret and show
// up everywhere); annotation storage.selkie.dev/expires is Expires in RFC 3339 with
// nanoseconds, so that List filters on it exactly like the memory store does.
const SessionSecretType corev1.SecretType = "storage.selkie.dev/session"

// ErrCorrupt is returned (wrapped, with the reason) when a stored session exists but
// cannot be decoded: unknown format version, malformed JSON, an ID that does not match
// its name, or sealed upstream data that does not open. It never wraps ErrNotFound.
var ErrCorrupt = errors.New("stored session is unreadable")

const (
	secretNamePrefix   = "selkie-session-"
	labelType          = "storage.selkie.dev/type"
	labelTypeSession   = "session"
	labelIssuer        = "storage.selkie.dev/issuer"
	labelUsername      = "storage.selkie.dev/username"
	annotationExpires  = "storage.selkie.dev/expires"
	dataSession        = "session"
	dataVersion        = "version"
	formatVersion1     = "1"
	labelHashHexLength = 32
)

type storedSession struct {
	ID                 string         `json:"id"`
	Issuer             string         `json:"issuer"`
	ClientID           string         `json:"clientID"`
	GrantedScopes      []string       `json:"grantedScopes,omitempty"`
	RedirectURI        string         `json:"redirectURI,omitempty"`
	Nonce              string         `json:"nonce,omitempty"`
	CodeChallenge      string         `json:"codeChallenge,omitempty"`
	AuthTime           time.Time      `json:"authTime"`
	Expires            time.Time      `json:"expires"`
	IdP                storedIdP      `json:"idp"`
	Subject            string         `json:"subject,omitempty"`
	Username           string         `json:"username,omitempty"`
	Groups             []string       `json:"groups,omitempty"`
	AdditionalClaims   map[string]any `json:"additionalClaims,omitempty"`
	UpstreamUsername   string         `json:"upstreamUsername,omitempty"`
	UpstreamGroups     []string       `json:"upstreamGroups,omitempty"`
	UpstreamSubject    string         `json:"upstreamSubject,omitempty"`
	SealedUpstreamData []byte         `json:"sealedUpstreamData,omitempty"`
	Code               *storedToken   `json:"code,omitempty"`
	AccessTokens       []storedToken  `json:"accessTokens,omitempty"`
	RefreshToken       *storedToken   `json:"refreshToken,omitempty"`
	// UsedRefreshTokens is the hash list as written before usedRefreshTokensPacked
	// existed, and still when a hash is longer than maxPackedHash; it is read either way.
	UsedRefreshTokens [][]byte `json:"usedRefreshTokens,omitempty"`
	// UsedRefreshTokensPacked is the hash list as one value, each hash preceded by its
	// length in one byte. Decoding one base64 string instead of a hundred halves the
	// session's decode time, which every refresh and token exchange pays.
	UsedRefreshTokensPacked []byte        `json:"usedRefreshTokensPacked,omitempty"`
	DeviceGrant             *storedDevice `json:"deviceGrant,omitempty"`
}

type storedIdP struct {
	DisplayName string `json:"displayName,omitempty"`
	Type        string `json:"type,omitempty"`
	Kind        string `json:"kind,omitempty"`
	Name        string `json:"name,omitempty"`
	UID         string `json:"uid,omitempty"`
}

// storedDevice is a DeviceGrant; the interval is a Go duration string ("5s"), exact
// for every duration.
type storedDevice struct {
	Status   string    `json:"status"`
	CodeHash []byte    `json:"codeHash,omitempty"`
	Expires  time.Time `json:"expires"`
	Interval string    `json:"interval"`
	LastPoll time.Time `json:"lastPoll"`
}

type storedToken struct {
	Hash    []byte    `json:"hash,omitempty"`
	Expires time.Time `json:"expires"`
	Used    bool      `json:"used,omitempty"`
}

func secretName(id string) string { return secretNamePrefix + id }

// hashLabel is the label value for a value that must not appear in the clear.
func hashLabel(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])[:labelHashHexLength]
}

// encodeSecret returns the Secret that stores s, with UpstreamData sealed.
func encodeSecret(s *Session, sealer Sealer) (*corev1.Secret, error) {
	secret, _, err := encodeSecretDecoded(s, sealer)
	return secret, err
}

// encodeSecretDecoded is encodeSecret that also returns what decoding the Secret gives,
// for the decoded-session memo: the session without UpstreamData, and its sealed form.
func encodeSecretDecoded(s *Session, sealer Sealer) (*corev1.Secret, *decodedSession, error) {
	n, err := normalize(s)
	if err != nil {
		return nil, nil, err
	}
	stored := storedSession{
		ID: n.ID, Issuer: n.Issuer, ClientID: n.ClientID, GrantedScopes: n.GrantedScopes,
		RedirectURI: n.RedirectURI, Nonce: n.Nonce, CodeChallenge: n.CodeChallenge,
		AuthTime: n.AuthTime, Expires: n.Expires, IdP: storedIdP(n.IdP),
		Subject: n.Subject, Username: n.Username, Groups: n.Groups, AdditionalClaims: n.AdditionalClaims,
		UpstreamUsername: n.UpstreamUsername, UpstreamGroups: n.UpstreamGroups, UpstreamSubject: n.UpstreamSubject,
		Code: (*storedToken)(n.Code), RefreshToken: (*storedToken)(n.RefreshToken),
	}
	if packed, ok := packHashes(n.UsedRefreshTokens); ok {
		stored.UsedRefreshTokensPacked = packed
	} else {
		stored.UsedRefreshTokens = n.UsedRefreshTokens
	}
	if g := n.DeviceGrant; g != nil {
		stored.DeviceGrant = &storedDevice{Status: g.Status, CodeHash: g.CodeHash, Expires: g.Expires,
			Interval: g.Interval.String(), LastPoll: g.LastPoll}
	}
	for _, t := range n.AccessTokens {
		stored.AccessTokens = append(stored.AccessTokens, storedToken(t))
	}
	if len(n.UpstreamData) > 0 {
		if stored.SealedUpstreamData, err = sealer.Seal(n.UpstreamData, []byte(n.ID)); err != nil {
			return nil, nil, fmt.Errorf("seal upstream data: %w", err)
		}
	}
	raw, err := json.Marshal(stored)
	if err != nil {
		return nil, nil, fmt.Errorf("encode session: %w", err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: secretName(n.ID),
			Labels: map[string]string{
				labelType:     labelTypeSession,
				labelIssuer:   hashLabel(n.Issuer),
				labelUsername: hashLabel(n.Username),
			},
			Annotations: map[string]string{annotationExpires: formatExpires(n.Expires)},
		},
		Type: SessionSecretType,
		Data: map[string][]byte{dataVersion: []byte(formatVersion1), dataSession: raw},
	}
	n.UpstreamData = nil
	return secret, &decodedSession{raw: raw, session: asDecoded(n), sealed: stored.SealedUpstreamData}, nil
}

func formatExpires(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// secretExpires reads the expires annotation, without decoding the session.
func secretExpires(secret *corev1.Secret) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, secret.Annotations[annotationExpires])
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: secret %s: annotation %s: %w", ErrCorrupt, secret.Name, annotationExpires, err)
	}
	return t, nil
}

// decodeSecret returns the session stored in secret, with UpstreamData opened.
func decodeSecret(secret *corev1.Secret, sealer Sealer) (*Session, error) {
	s, err := decodeSecretData(secret, sealer)
	if err != nil {
		return nil, unreadable(secret, err)
	}
	return s, nil
}

// unreadable is the ErrCorrupt for a session that could not be decoded from secret.
func unreadable(secret *corev1.Secret, err error) error {
	return fmt.Errorf("%w: secret %s: %w", ErrCorrupt, secret.Name, err)
}

func decodeSecretData(secret *corev1.Secret, sealer Sealer) (*Session, error) {
	if err := checkSecret(secret); err != nil {
		return nil, err
	}
	d, err := decodeSession(secret)
	if err != nil {
		return nil, err
	}
	return d.take(secret.ResourceVersion, sealer)
}

// checkSecret checks what a Secret holding a session must be, apart from its session.
func checkSecret(secret *corev1.Secret) error {
	if secret.Type != SessionSecretType {
		return fmt.Errorf("type is %q, want %q", secret.Type, SessionSecretType)
	}
	if v := string(secret.Data[dataVersion]); v != formatVersion1 {
		return fmt.Errorf("unsupported format version %q", v)
	}
	return nil
}

// decodeSession decodes the session data of secret, leaving the upstream data sealed.
func decodeSession(secret *corev1.Secret) (*decodedSession, error) {
	raw := secret.Data[dataSession]
	var stored storedSession
	if err := json.Unmarshal(raw, &stored); err != nil {
		return nil, fmt.Errorf("decode session: %w", err)
	}
	if id, _ := strings.CutPrefix(secret.Name, secretNamePrefix); stored.ID != id {
		return nil, fmt.Errorf("stored ID %q does not match the name", stored.ID)
	}
	s := &Session{
		ID: stored.ID, Issuer: stored.Issuer, ClientID: stored.ClientID, GrantedScopes: stored.GrantedScopes,
		RedirectURI: stored.RedirectURI, Nonce: stored.Nonce, CodeChallenge: stored.CodeChallenge,
		AuthTime: stored.AuthTime, Expires: stored.Expires, IdP: IdP(stored.IdP),
		Subject: stored.Subject, Username: stored.Username, Groups: stored.Groups, AdditionalClaims: stored.AdditionalClaims,
		UpstreamUsername: stored.UpstreamUsername, UpstreamGroups: stored.UpstreamGroups, UpstreamSubject: stored.UpstreamSubject,
		Code: (*Token)(stored.Code), RefreshToken: (*Token)(stored.RefreshToken),
		UsedRefreshTokens: stored.UsedRefreshTokens,
	}
	if len(stored.UsedRefreshTokensPacked) > 0 {
		if len(stored.UsedRefreshTokens) > 0 {
			return nil, errors.New("both usedRefreshTokens and usedRefreshTokensPacked are set")
		}
		used, err := unpackHashes(stored.UsedRefreshTokensPacked)
		if err != nil {
			return nil, fmt.Errorf("usedRefreshTokensPacked: %w", err)
		}
		s.UsedRefreshTokens = used
	}
	if g := stored.DeviceGrant; g != nil {
		interval, err := time.ParseDuration(g.Interval)
		if err != nil {
			return nil, fmt.Errorf("device grant interval: %w", err)
		}
		s.DeviceGrant = &DeviceGrant{Status: g.Status, CodeHash: g.CodeHash, Expires: g.Expires, Interval: interval, LastPoll: g.LastPoll}
	}
	for _, t := range stored.AccessTokens {
		s.AccessTokens = append(s.AccessTokens, Token(t))
	}
	// Same shape as the memory store: empty slices and maps are nil.
	return &decodedSession{raw: raw, session: nilEmpty(s), sealed: stored.SealedUpstreamData}, nil
}

// maxPackedHash is the longest hash packHashes can hold (its length is one byte).
const maxPackedHash = 255

// packHashes writes hashes as one byte string, each preceded by its length; false if one
// is empty or longer than maxPackedHash (or there are none).
func packHashes(hashes [][]byte) ([]byte, bool) {
	size := 0
	for _, h := range hashes {
		if len(h) == 0 || len(h) > maxPackedHash {
			return nil, false
		}
		size += 1 + len(h)
	}
	if size == 0 {
		return nil, false
	}
	out := make([]byte, 0, size)
	for _, h := range hashes {
		out = append(out, byte(len(h))) //nolint:gosec // G115: 1 to maxPackedHash (255), checked above.
		out = append(out, h...)
	}
	return out, true
}

// unpackHashes reverses packHashes. The hashes share one backing array, each capped at
// its own length so that appending to one cannot overwrite the next.
func unpackHashes(packed []byte) ([][]byte, error) {
	var out [][]byte
	for rest := packed; len(rest) > 0; {
		n := int(rest[0])
		if n == 0 || len(rest) < 1+n {
			return nil, fmt.Errorf("malformed at byte %d of %d", len(packed)-len(rest), len(packed))
		}
		out = append(out, rest[1:1+n:1+n])
		rest = rest[1+n:]
	}
	return out, nil
}
