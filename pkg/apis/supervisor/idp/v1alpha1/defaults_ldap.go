// SPDX-License-Identifier: Apache-2.0

package v1alpha1

// Runtime defaults of LDAPIdentityProvider and ActiveDirectoryIdentityProvider
// searches. They are applied by the supervisor when a field is empty, not by the
// API server, so that the stored object stays as the administrator wrote it.
const (
	// LDAPDefaultGroupSearchFilter is the LDAP group search filter.
	LDAPDefaultGroupSearchFilter = "member={}"
	// LDAPDefaultUserAttributeForFilter is the user attribute substituted into the
	// group search filter, for both LDAP and Active Directory.
	LDAPDefaultUserAttributeForFilter = "dn"
	// LDAPDefaultGroupNameAttribute is the LDAP group name attribute.
	LDAPDefaultGroupNameAttribute = "dn"

	// ActiveDirectoryDefaultUserSearchFilter is the Active Directory user search filter.
	ActiveDirectoryDefaultUserSearchFilter = "(&(objectClass=person)(!(objectClass=computer))(!(showInAdvancedViewOnly=TRUE))(|(sAMAccountName={})(mail={})(userPrincipalName={}))(sAMAccountType=805306368))"
	// ActiveDirectoryDefaultUsernameAttribute is the Active Directory username attribute.
	ActiveDirectoryDefaultUsernameAttribute = "userPrincipalName"
	// ActiveDirectoryDefaultUIDAttribute is the Active Directory UID attribute.
	ActiveDirectoryDefaultUIDAttribute = "objectGUID"
	// ActiveDirectoryDefaultGroupSearchFilter is the Active Directory group search
	// filter (transitive membership).
	ActiveDirectoryDefaultGroupSearchFilter = "(&(objectClass=group)(member:1.2.840.113556.1.4.1941:={}))"
	// ActiveDirectoryDefaultGroupNameAttribute is the Active Directory group name
	// attribute; by default the group name is "<sAMAccountName>@<domain of the group's DN>".
	ActiveDirectoryDefaultGroupNameAttribute = "sAMAccountName"
	// ActiveDirectoryDefaultSearchBaseAttribute is the root DSE attribute used as the
	// default user and group search base.
	ActiveDirectoryDefaultSearchBaseAttribute = "defaultNamingContext"
)
