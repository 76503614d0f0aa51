// SPDX-License-Identifier: Apache-2.0

package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// Fingerprint hashes config, everything a live value is built from (spec, credentials,
// CA bundle), so that an unchanged resource keeps its value without contacting its
// server again: a flaky network must not evict a working authenticator or provider. It
// reveals no secret; it is "" when config cannot be encoded, which matches nothing.
func Fingerprint(config any) string {
	b, err := json.Marshal(config)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
