// SPDX-License-Identifier: Apache-2.0

package keys

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Key is one ES256 signing key.
type Key struct {
	// ID is the JWK `kid`: unique per key, never reused.
	ID string
	// Private signs; its public half is published.
	Private *ecdsa.PrivateKey
	// Created is when the key was generated; ActiveFrom when it starts signing.
	Created    time.Time
	ActiveFrom time.Time
}

// Set is a FederationDomain's keys at one moment: the one that signs, the one that will
// sign next (already published) and those that signed recently (still published, so that
// tokens they signed keep verifying). It is immutable.
type Set struct {
	Active   *Key
	Next     *Key
	Previous []*Key
}

// ErrNoActiveKey is a Set that cannot sign.
var ErrNoActiveKey = errors.New("no active signing key")

// JWKS is the public key set: active, next, then previous keys.
func (s *Set) JWKS() jose.JSONWebKeySet {
	var set jose.JSONWebKeySet
	for _, k := range s.published() {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.Private.PublicKey, KeyID: k.ID, Algorithm: string(jose.ES256), Use: "sig"})
	}
	return set
}

func (s *Set) published() []*Key {
	var keys []*Key
	if s.Active != nil {
		keys = append(keys, s.Active)
	}
	if s.Next != nil {
		keys = append(keys, s.Next)
	}
	return append(keys, s.Previous...)
}

// Sign serializes payload (JSON claims) as a compact JWS signed by the active key, with
// its `kid` in the header.
func (s *Set) Sign(payload []byte) (string, error) {
	if s == nil || s.Active == nil {
		return "", ErrNoActiveKey
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: s.Active.Private, KeyID: s.Active.ID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("signer for key %s: %w", s.Active.ID, err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign with key %s: %w", s.Active.ID, err)
	}
	return jws.CompactSerialize()
}
