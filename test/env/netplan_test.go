// SPDX-License-Identifier: Apache-2.0

package env

import (
	"net/netip"
	"testing"
)

func TestNetPlanLayout(t *testing.T) {
	p := NetPlan{Slot: 1}
	for _, c := range []struct{ got, want string }{
		{p.SlotPrefix().String(), "198.18.64.0/18"},
		{p.NodeNetwork().String(), "198.18.64.0/24"},
		{p.HostIP().String(), "198.18.64.1"},
		{p.NodeIP(0, 0).String(), "198.18.64.10"},
		{p.NodeIP(1, 2).String(), "198.18.64.28"},
		{p.ServiceCIDR(1).String(), "198.18.73.0/24"},
		{p.APIServiceIP(1).String(), "198.18.73.1"},
		{p.LoadBalancerPool(0).String(), "198.18.80.0/24"},
		{p.PodCIDR(1, 2).String(), "198.18.102.0/24"},
		{p.ClusterCIDR(1).String(), "198.18.100.0/22"},
		{NetPlan{Slot: 7}.SlotPrefix().String(), "198.19.192.0/18"},
		{p.BridgeName(), "selkie1"},
		{p.HostVeth(7, 3), "sk1c7n3"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}

// Every range of every slot must lie in its slot, in 198.18.0.0/15, and overlap no
// other range, for the largest environment the plan allows.
func TestNetPlanRangesAreDisjoint(t *testing.T) {
	block := netip.MustParsePrefix("198.18.0.0/15")
	var all []netip.Prefix
	for slot := range maxSlots {
		p := NetPlan{Slot: slot}
		ranges := []netip.Prefix{p.NodeNetwork()}
		for c := range MaxClusters {
			ranges = append(ranges, p.ServiceCIDR(c), p.LoadBalancerPool(c), p.ClusterCIDR(c))
			for n := range MaxNodesPerCluster {
				if !p.ClusterCIDR(c).Contains(p.PodCIDR(c, n).Addr()) {
					t.Errorf("slot %d: pod CIDR %s outside cluster CIDR %s", slot, p.PodCIDR(c, n), p.ClusterCIDR(c))
				}
				if !p.NodeNetwork().Contains(p.NodeIP(c, n)) || p.NodeIP(c, n) == p.HostIP() {
					t.Errorf("slot %d: node IP %s not a node address", slot, p.NodeIP(c, n))
				}
				if len(p.HostVeth(c, n)) > 15 {
					t.Errorf("interface name %s too long", p.HostVeth(c, n))
				}
			}
		}
		for _, r := range ranges {
			if !p.SlotPrefix().Contains(r.Addr()) || !block.Contains(r.Addr()) {
				t.Errorf("slot %d: %s outside the slot %s", slot, r, p.SlotPrefix())
			}
		}
		all = append(all, ranges...)
	}
	for i := range all {
		for j := i + 1; j < len(all); j++ {
			if all[i].Overlaps(all[j]) {
				t.Errorf("%s overlaps %s", all[i], all[j])
			}
		}
	}
}

func TestCheckPlan(t *testing.T) {
	if err := checkPlan(MaxClusters, MaxNodesPerCluster); err != nil {
		t.Errorf("largest plan refused: %v", err)
	}
	if checkPlan(MaxClusters+1, 1) == nil || checkPlan(1, MaxNodesPerCluster+1) == nil {
		t.Error("oversized plan accepted")
	}
}
