// SPDX-License-Identifier: Apache-2.0

// Package install registers every version of the session.supervisor.selkie.dev API,
// with its conversions and defaults, in a scheme.
package install
