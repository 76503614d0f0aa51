//go:build tools

// Package tools pins Dex, the upstream OIDC provider of the local environment.
// Dex's module path has no /v2, so its v2.x tags are not module versions; the
// pseudo-version of the v2.45.1 tag commit is pinned in go.mod instead.
package tools

import _ "github.com/dexidp/dex/cmd/dex"
