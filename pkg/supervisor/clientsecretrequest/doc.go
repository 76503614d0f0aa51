// SPDX-License-Identifier: Apache-2.0

// Package clientsecretrequest is the supervisor's aggregated API, clientsecret.supervisor.<suffix>
// (docs/wire-contract.md §1.11): the scheme of the group and the create-only storage of
// OIDCClientSecretRequest, which generates and revokes an OIDCClient's secrets.
//
// It stores hashes through oidcclient.SecretStore; serving the group (certificates,
// delegated authentication and authorization) is pkg/aggregatedapi's job.
package clientsecretrequest
