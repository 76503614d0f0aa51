// SPDX-License-Identifier: Apache-2.0

package authenticator

import (
	"fmt"
	"strings"
)

// ReservedPrefix starts the names Kubernetes keeps for itself: system:masters (cluster
// admin), system:nodes, system:serviceaccount:<ns>:<name>, its controllers' users.
const ReservedPrefix = "system:"

// ReservedIdentity says why a user from a token authenticator must not get a cluster
// credential, or "". An identity provider outside the cluster must never name a
// reserved user or group: one that lets users pick their groups (or a compromised
// webhook) would otherwise hand out cluster-admin. The rule holds for every
// authenticator kind and has no opt-out; rename such groups upstream or with the
// supervisor's identity transforms (a prefix) if they are wanted.
func ReservedIdentity(username string, groups []string) string {
	if strings.HasPrefix(username, ReservedPrefix) {
		return "username starts with " + ReservedPrefix + " (reserved by Kubernetes)"
	}
	for i, g := range groups {
		if strings.HasPrefix(g, ReservedPrefix) {
			return fmt.Sprintf("group %d of %d starts with %s (reserved by Kubernetes)", i+1, len(groups), ReservedPrefix)
		}
	}
	return ""
}
