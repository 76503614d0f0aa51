// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// stateVersion is the format of encoded values; a different one is refused (422).
const stateVersion = 2

// maxStateLength bounds an encoded state, as it travels in URLs and cookies.
const maxStateLength = 8 * maxParamLength

var (
	errStateInvalid = errors.New("state is not valid")
	errStateVersion = errors.New("state has an unsupported version")
	// errStateTooLarge is a value whose encoding would exceed maxStateLength.
	errStateTooLarge = errors.New("state is too large")
	errStateExpired  = errors.New("state has expired")
)

// stateCodec seals values that travel through the browser (the upstream state parameter,
// the CSRF cookie): AES-256-GCM with the encryption key, then HMAC-SHA256 with the
// signing key, each bound to the value's purpose, with an expiry inside.
type stateCodec struct {
	aead    cipher.AEAD
	signKey []byte
}

func newStateCodec(signKey, encKey []byte) (*stateCodec, error) {
	if len(signKey) < 32 || len(encKey) != 32 {
		return nil, errors.New("state keys must be 32 bytes")
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, fmt.Errorf("state encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("state encryption key: %w", err)
	}
	return &stateCodec{aead: aead, signKey: signKey}, nil
}

type envelope struct {
	Version int             `json:"v"`
	Expires int64           `json:"exp"`
	Value   json.RawMessage `json:"val"`
}

// encode seals v for purpose until expires.
func (c *stateCodec) encode(purpose string, v any, expires time.Time) (string, error) {
	value, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	plain, err := json.Marshal(envelope{Version: stateVersion, Expires: expires.Unix(), Value: value})
	if err != nil {
		return "", err
	}
	nonce := make([]byte, c.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	sealed := c.aead.Seal(nonce, nonce, plain, []byte(purpose))
	body := base64.RawURLEncoding.EncodeToString(sealed)
	encoded := body + "." + base64.RawURLEncoding.EncodeToString(c.mac(purpose, body))
	if len(encoded) > maxStateLength {
		// decode would refuse it: never hand out a value that cannot come back.
		return "", errStateTooLarge
	}
	return encoded, nil
}

// decode opens a value sealed for purpose into v; it refuses tampered, foreign,
// expired and differently versioned values.
func (c *stateCodec) decode(purpose, encoded string, now time.Time, v any) error {
	body, sig, ok := strings.Cut(encoded, ".")
	if !ok || len(encoded) > maxStateLength {
		return errStateInvalid
	}
	gotMAC, err := decodeCanonical(sig)
	if err != nil || !hmac.Equal(gotMAC, c.mac(purpose, body)) {
		return errStateInvalid
	}
	sealed, err := decodeCanonical(body)
	if err != nil || len(sealed) < c.aead.NonceSize() {
		return errStateInvalid
	}
	plain, err := c.aead.Open(nil, sealed[:c.aead.NonceSize()], sealed[c.aead.NonceSize():], []byte(purpose))
	if err != nil {
		return errStateInvalid
	}
	var env envelope
	if err := json.Unmarshal(plain, &env); err != nil {
		return errStateInvalid
	}
	if env.Version != stateVersion {
		return errStateVersion
	}
	if !now.Before(time.Unix(env.Expires, 0)) {
		return errStateExpired
	}
	if err := json.Unmarshal(env.Value, v); err != nil {
		return errStateInvalid
	}
	return nil
}

func (c *stateCodec) mac(purpose, body string) []byte {
	m := hmac.New(sha256.New, c.signKey)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(body))
	return m.Sum(nil)
}
