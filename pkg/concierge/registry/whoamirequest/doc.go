// SPDX-License-Identifier: Apache-2.0

// Package whoamirequest is the REST storage of the concierge's virtual, create-only
// WhoAmIRequest resource (docs/wire-contract.md §1.5): it echoes the caller exactly as the
// serving API server authenticated it.
package whoamirequest
