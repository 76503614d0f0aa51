// SPDX-License-Identifier: Apache-2.0

package env

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// User is a test user known to Dex's password database and to the LDAP directory,
// with the same password and groups in both.
type User struct {
	Username string
	Email    string
	Password string
	Groups   []string
}

// Info is everything a test or a person needs to use a running environment. It is what
// the env file holds, so tests work the same against an environment they started and
// against one held open by `make env`.
type Info struct {
	// Dir is the environment's root directory (PKI, configs, logs).
	Dir string
	// Kubectl is the kubectl binary matching the control planes.
	Kubectl string
	// CABundle is the PEM file of the CA that signed Dex's and slapd's serving certificates.
	CABundle string
	// Clusters are the control planes; Clusters[0] is the management cluster.
	Clusters []ClusterInfo
	// Dex is the upstream OIDC provider.
	Dex DexInfo
	// LDAP is the upstream directory.
	LDAP LDAPInfo
	// Users are the test users.
	Users []User
	// HostIP is the host's address on the node network, where pods reach the host's
	// servers; empty without nodes.
	HostIP string
	// NodeBin holds crictl, ctr and the rest of the nodes' runtime.
	NodeBin string
	// SupervisorAddr is the loopback host:port reserved for the supervisor, whose
	// issuers' callbacks Dex knows (see SupervisorIssuerPaths).
	SupervisorAddr string
	// PIDs are the environment's processes, for people who want to look at them.
	PIDs []int
}

// ClusterInfo locates one control plane.
type ClusterInfo struct {
	Name, APIURL, Kubeconfig string
	// ClusterCACert and ClusterCAKey are the CA that signs client certificates and CSRs.
	ClusterCACert, ClusterCAKey string
	// FrontProxyCACert is the requestheader CA of the aggregation layer.
	FrontProxyCACert string
	// Nodes are the cluster's nodes; empty in an environment without nodes.
	Nodes []NodeInfo
	// LoadBalancerPool is the range LoadBalancer Services get addresses from.
	LoadBalancerPool string
}

// NodeInfo locates one node.
type NodeInfo struct {
	// Name is the Node's name; IP its address; Socket its containerd socket (for
	// `crictl --runtime-endpoint unix://<socket>` and `ctr --address <socket>`).
	Name, IP, Socket string
}

// DexInfo locates Dex and its supervisor client.
type DexInfo struct {
	Issuer, ClientID, ClientSecret string
	RedirectURIs                   []string
}

// LDAPInfo locates slapd and its seeded tree.
type LDAPInfo struct {
	StartTLSAddr, LDAPSAddr   string
	BaseDN, UsersDN, GroupsDN string
	BindDN, BindPassword      string
}

// Management returns the management cluster.
func (i Info) Management() ClusterInfo {
	if len(i.Clusters) == 0 {
		panic("env: no cluster in this environment's Info (was it started, or is this a test run with SELKIE_SHARED_ENV=off?)")
	}
	return i.Clusters[0]
}

// User returns the test user with this username.
func (i Info) User(name string) (User, bool) {
	for _, u := range i.Users {
		if u.Username == name {
			return u, true
		}
	}
	return User{}, false
}

// envVars flattens i into the env file's KEY=value pairs.
func (i Info) envVars() map[string]string {
	v := map[string]string{
		"SELKIE_ENV_DIR": i.Dir, "SELKIE_KUBECTL": i.Kubectl, "SELKIE_CA_BUNDLE": i.CABundle,
		"SELKIE_DEX_ISSUER": i.Dex.Issuer, "SELKIE_DEX_CLIENT_ID": i.Dex.ClientID,
		"SELKIE_DEX_CLIENT_SECRET": i.Dex.ClientSecret, "SELKIE_DEX_REDIRECT_URIS": strings.Join(i.Dex.RedirectURIs, ","),
		"SELKIE_LDAP_STARTTLS_ADDR": i.LDAP.StartTLSAddr, "SELKIE_LDAP_LDAPS_ADDR": i.LDAP.LDAPSAddr,
		"SELKIE_LDAP_BASE_DN": i.LDAP.BaseDN, "SELKIE_LDAP_USERS_DN": i.LDAP.UsersDN, "SELKIE_LDAP_GROUPS_DN": i.LDAP.GroupsDN,
		"SELKIE_LDAP_BIND_DN": i.LDAP.BindDN, "SELKIE_LDAP_BIND_PASSWORD": i.LDAP.BindPassword,
		"SELKIE_SUPERVISOR_ADDR": i.SupervisorAddr, "SELKIE_HOST_IP": i.HostIP, "SELKIE_NODE_BIN": i.NodeBin, "SELKIE_CLUSTERS": strconv.Itoa(len(i.Clusters)), "SELKIE_USERS": strconv.Itoa(len(i.Users)),
	}
	var pids []string
	for _, p := range i.PIDs {
		pids = append(pids, strconv.Itoa(p))
	}
	v["SELKIE_PIDS"] = strings.Join(pids, ",")
	if len(i.Clusters) > 0 {
		v["KUBECONFIG"] = i.Clusters[0].Kubeconfig
	}
	for n, c := range i.Clusters {
		p := "SELKIE_CLUSTER_" + strconv.Itoa(n) + "_"
		v[p+"NAME"], v[p+"API_URL"], v[p+"KUBECONFIG"] = c.Name, c.APIURL, c.Kubeconfig
		v[p+"CA_CERT"], v[p+"CA_KEY"], v[p+"FRONT_PROXY_CA_CERT"] = c.ClusterCACert, c.ClusterCAKey, c.FrontProxyCACert
		v[p+"LB_POOL"] = c.LoadBalancerPool
		var nodes []string
		for _, n := range c.Nodes {
			nodes = append(nodes, n.Name+"="+n.IP+"="+n.Socket)
		}
		v[p+"NODES"] = strings.Join(nodes, ",")
	}
	for n, u := range i.Users {
		p := "SELKIE_USER_" + strconv.Itoa(n) + "_"
		v[p+"NAME"], v[p+"EMAIL"], v[p+"PASSWORD"], v[p+"GROUPS"] = u.Username, u.Email, u.Password, strings.Join(u.Groups, ",")
	}
	return v
}

// WriteEnvFile writes i as `export KEY='value'` lines (mode 0600: it holds test passwords),
// which a shell can source and LoadEnvFile reads back.
func WriteEnvFile(path string, i Info) error {
	vars := i.envVars()
	keys := make([]string, 0, len(vars))
	for k, val := range vars {
		if strings.ContainsAny(val, "'\n") {
			return fmt.Errorf("env file: value of %s cannot be quoted", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Selkie local environment; source it in a shell or read it with env.LoadEnvFile.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "export %s='%s'\n", k, vars[k])
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// LoadEnvFile reads an env file written by WriteEnvFile.
func LoadEnvFile(path string) (Info, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Info{}, err
	}
	v := parseKeyValues(data)
	i := Info{
		Dir: v["SELKIE_ENV_DIR"], Kubectl: v["SELKIE_KUBECTL"], CABundle: v["SELKIE_CA_BUNDLE"], SupervisorAddr: v["SELKIE_SUPERVISOR_ADDR"],
		HostIP: v["SELKIE_HOST_IP"], NodeBin: v["SELKIE_NODE_BIN"],
		Dex: DexInfo{Issuer: v["SELKIE_DEX_ISSUER"], ClientID: v["SELKIE_DEX_CLIENT_ID"],
			ClientSecret: v["SELKIE_DEX_CLIENT_SECRET"], RedirectURIs: splitList(v["SELKIE_DEX_REDIRECT_URIS"])},
		LDAP: LDAPInfo{StartTLSAddr: v["SELKIE_LDAP_STARTTLS_ADDR"], LDAPSAddr: v["SELKIE_LDAP_LDAPS_ADDR"],
			BaseDN: v["SELKIE_LDAP_BASE_DN"], UsersDN: v["SELKIE_LDAP_USERS_DN"], GroupsDN: v["SELKIE_LDAP_GROUPS_DN"],
			BindDN: v["SELKIE_LDAP_BIND_DN"], BindPassword: v["SELKIE_LDAP_BIND_PASSWORD"]},
	}
	for _, p := range splitList(v["SELKIE_PIDS"]) {
		if pid, err := strconv.Atoi(p); err == nil {
			i.PIDs = append(i.PIDs, pid)
		}
	}
	clusters, err := strconv.Atoi(v["SELKIE_CLUSTERS"])
	if err != nil || clusters < 1 {
		return Info{}, fmt.Errorf("env file %s: SELKIE_CLUSTERS is %q, want a number ≥ 1", path, v["SELKIE_CLUSTERS"])
	}
	for n := range clusters {
		p := "SELKIE_CLUSTER_" + strconv.Itoa(n) + "_"
		c := ClusterInfo{Name: v[p+"NAME"], APIURL: v[p+"API_URL"], Kubeconfig: v[p+"KUBECONFIG"],
			ClusterCACert: v[p+"CA_CERT"], ClusterCAKey: v[p+"CA_KEY"], FrontProxyCACert: v[p+"FRONT_PROXY_CA_CERT"],
			LoadBalancerPool: v[p+"LB_POOL"]}
		for _, n := range splitList(v[p+"NODES"]) {
			parts := strings.SplitN(n, "=", 3)
			if len(parts) != 3 {
				return Info{}, fmt.Errorf("env file %s: %sNODES entry %q is not name=ip=socket", path, p, n)
			}
			c.Nodes = append(c.Nodes, NodeInfo{Name: parts[0], IP: parts[1], Socket: parts[2]})
		}
		i.Clusters = append(i.Clusters, c)
	}
	users, _ := strconv.Atoi(v["SELKIE_USERS"])
	for n := range users {
		p := "SELKIE_USER_" + strconv.Itoa(n) + "_"
		i.Users = append(i.Users, User{Username: v[p+"NAME"], Email: v[p+"EMAIL"], Password: v[p+"PASSWORD"], Groups: splitList(v[p+"GROUPS"])})
	}
	return i, nil
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
