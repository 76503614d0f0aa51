// SPDX-License-Identifier: Apache-2.0

// Package logincmd implements `selkie login oidc` and `selkie login static`, the exec
// credential plugins kubectl runs (docs/wire-contract.md §3.3–§3.5): caches first, then refresh,
// then an interactive login, then the token exchange and the concierge, printing one
// ExecCredential on stdout. Prompts, URLs and diagnostics go to stderr or the terminal.
package logincmd
