// SPDX-License-Identifier: Apache-2.0

package env

import (
	"fmt"
	"net/netip"
)

// The environment's nodes live in network namespaces it creates, joined to the host by a
// bridge. Their addresses come from 198.18.0.0/15, the block RFC 2544 reserves for
// network benchmark tests: it is routed nowhere on the internet and collides with no
// site or cloud network, so a host never already has a route into it. The block is cut
// into eight slots, one per environment running on the host at the same time; a slot is
// a /18, 64 /24 networks, laid out by NetPlan.
const (
	// maxSlots is how many environments may run on one host at once.
	maxSlots = 8
	// MaxClusters is how many control planes (management plus workload) one
	// environment may have nodes for.
	MaxClusters = 8
	// MaxNodesPerCluster bounds Options.NodesPerCluster.
	MaxNodesPerCluster = 4
)

//nolint:gochecknoglobals // an immutable address.
var planBase = netip.MustParseAddr("198.18.0.0")

// NetPlan is the address plan of one environment's slot. In /24 units from the slot's
// start:
//
//	0          the node network: the host's bridge is .1, node n of cluster c is .(10+16c+n)
//	8+c        cluster c's Service CIDR (its ClusterIPs; the kubernetes Service is .1)
//	16+c       cluster c's load-balancer pool (addresses the LB controller hands out)
//	32+4c+n    node n of cluster c's pod CIDR; cluster c's pods are the /22 at 32+4c
//
// Service CIDRs and load-balancer pools get a host route to a node of their cluster,
// where kube-proxy turns the address into a pod's; every pod CIDR gets a route to its
// node, on the host and in every other node.
type NetPlan struct {
	// Slot is the environment's slot, 0 to maxSlots-1.
	Slot int
}

// slash24 returns the first address of the /24 at offset i of the slot.
func (p NetPlan) slash24(i int) netip.Addr {
	b := planBase.As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n += uint32(p.Slot)<<14 + uint32(i)<<8
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

func withLast(a netip.Addr, last byte) netip.Addr {
	b := a.As4()
	b[3] = last
	return netip.AddrFrom4(b)
}

// Slot returns the whole /18 of the environment.
func (p NetPlan) SlotPrefix() netip.Prefix { return netip.PrefixFrom(p.slash24(0), 18) }

// NodeNetwork is the /24 the bridge and the nodes' interfaces share.
func (p NetPlan) NodeNetwork() netip.Prefix { return netip.PrefixFrom(p.slash24(0), 24) }

// HostIP is the bridge's address: what nodes and pods reach the host's servers at
// (kube-apiserver, Dex, slapd).
func (p NetPlan) HostIP() netip.Addr { return withLast(p.slash24(0), 1) }

// NodeIP is node n of cluster c's address on the node network.
func (p NetPlan) NodeIP(c, n int) netip.Addr { return withLast(p.slash24(0), byte(10+16*c+n)) }

// ServiceCIDR is cluster c's range of ClusterIPs.
func (p NetPlan) ServiceCIDR(c int) netip.Prefix { return netip.PrefixFrom(p.slash24(8+c), 24) }

// APIServiceIP is the ClusterIP of cluster c's kubernetes Service (the first of its range).
func (p NetPlan) APIServiceIP(c int) netip.Addr { return withLast(p.slash24(8+c), 1) }

// LoadBalancerPool is the range cluster c's LoadBalancer Services get addresses from.
func (p NetPlan) LoadBalancerPool(c int) netip.Prefix { return netip.PrefixFrom(p.slash24(16+c), 24) }

// SupervisorIP is the management cluster's load-balancer address the local
// environment keeps for the supervisor's Service (the pool's first address; the
// LoadBalancers controller hands out addresses from .10 on unless one is asked for).
func (p NetPlan) SupervisorIP() netip.Addr { return p.LoadBalancerPool(0).Addr().Next() }

// PodCIDR is node n of cluster c's range of pod addresses.
func (p NetPlan) PodCIDR(c, n int) netip.Prefix { return netip.PrefixFrom(p.slash24(32+4*c+n), 24) }

// ClusterCIDR is every pod address of cluster c (kube-proxy's notion of "inside").
func (p NetPlan) ClusterCIDR(c int) netip.Prefix { return netip.PrefixFrom(p.slash24(32+4*c), 22) }

// BridgeName is the host bridge of the slot; creating it claims the slot.
func (p NetPlan) BridgeName() string { return fmt.Sprintf("selkie%d", p.Slot) }

// NetnsName is the network namespace of node n of cluster c.
func (p NetPlan) NetnsName(c, n int) string { return fmt.Sprintf("selkie%d-c%dn%d", p.Slot, c, n) }

// HostVeth is the host end of node n of cluster c's link to the bridge (at most 15
// characters, the kernel's limit for interface names).
func (p NetPlan) HostVeth(c, n int) string { return fmt.Sprintf("sk%dc%dn%d", p.Slot, c, n) }

// checkPlan says whether a cluster and node count fits the plan.
func checkPlan(clusters, nodesPerCluster int) error {
	if clusters > MaxClusters {
		return fmt.Errorf("nodes: %d clusters do not fit the address plan (at most %d)", clusters, MaxClusters)
	}
	if nodesPerCluster > MaxNodesPerCluster {
		return fmt.Errorf("nodes: %d nodes per cluster do not fit the address plan (at most %d)", nodesPerCluster, MaxNodesPerCluster)
	}
	return nil
}
