// SPDX-License-Identifier: Apache-2.0

// Package testcond builds and compares the status conditions that the
// authenticator controllers' tests expect. It is for tests only.
package testcond
