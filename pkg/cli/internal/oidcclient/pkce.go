// SPDX-License-Identifier: Apache-2.0

package oidcclient

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// pkce is one login's state, nonce and PKCE pair.
type pkce struct {
	state, nonce, verifier, challenge string
}

func newPKCE() (*pkce, error) {
	var p pkce
	for _, s := range []*string{&p.state, &p.nonce, &p.verifier} {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("generate login secrets: %w", err)
		}
		*s = base64.RawURLEncoding.EncodeToString(b)
	}
	sum := sha256.Sum256([]byte(p.verifier))
	p.challenge = base64.RawURLEncoding.EncodeToString(sum[:])
	return &p, nil
}
