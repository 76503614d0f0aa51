// SPDX-License-Identifier: Apache-2.0

// Package githubtest is a loopback fake of GitHub's OAuth web flow and of the
// parts of its REST API that the supervisor uses, for unit and integration
// tests. It serves HTTPS with a certificate of its own CA and answers the way
// GitHub documents: the token endpoint reports errors with 200 and an "error"
// field, list endpoints paginate with Link headers, and the API lives under
// /api/v3 as on GitHub Enterprise Server. GitHub's login page is out of scope:
// the authorize endpoint logs in the configured user at once.
package githubtest
