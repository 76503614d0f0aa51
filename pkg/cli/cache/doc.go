// SPDX-License-Identifier: Apache-2.0

// Package cache owns the two on-disk caches of the selkie CLI: the session cache
// (OIDC tokens per issuer, client, scopes, redirect URI and upstream IdP; docs/wire-contract.md
// §3.6) and the credential cache (ExecCredential statuses per command line and cluster;
// §3.7). Both files are byte-compatible with the reference Pinniped CLI's
// (apiVersion config.supervisor.pinniped.dev/v1alpha1, kinds SessionCache and
// CredentialCache, the same YAML field names and the same credential key derivation),
// so either CLI can read and update the files the other wrote.
//
// Every operation takes an exclusive lock on "<path>.lock", reads the file, drops stale
// entries, applies the change and rewrites the file atomically with mode 0600. The caches
// are best effort: a lock timeout, an unreadable file or a failed write only skips the
// operation, and a file that does not parse or has another apiVersion/kind is reset. None
// of this is returned to the caller; it is reported to the debug logger given with
// WithLogger, and tokens are never logged.
//
// The package does not decide when a cached session is good enough to use (the 10 s /
// 10 min rules of §3.5) nor how the credential key's inputs are collected from the
// environment; that belongs to the login commands.
package cache
