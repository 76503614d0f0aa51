// SPDX-License-Identifier: Apache-2.0

package env

import (
	"context"
	"os"
	"path/filepath"
	"time"
)

// startNodes builds the pause image, starts every cluster's nodes and its load-balancer
// controller.
func (e *Environment) startNodes(ctx context.Context, bins Binaries, opts Options) error {
	start := time.Now()
	dir := filepath.Join(e.Info.Dir, "images")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	pause, pauseName, err := BuildPauseImage(ctx, dir)
	if err != nil {
		return errPeer("pause image", err)
	}
	progress(opts, "pause image %s built in %s", pauseName, time.Since(start).Round(time.Millisecond))
	images := append([]string{pause}, opts.Images...)
	nodes := max(opts.NodesPerCluster, 1)
	for c, cp := range e.ControlPlanes {
		e.Nodes = append(e.Nodes, nil)
		for i := range nodes {
			n, err := StartNode(ctx, bins, cp, e.Network, NodeOptions{Cluster: c, Index: i, Images: images, PauseImage: pauseName})
			if err != nil {
				return err
			}
			e.Nodes[c] = append(e.Nodes[c], n)
			progress(opts, "node %s (%s, pods %s) ready in %s", n.Name, n.IP, n.PodCIDR, n.ReadyAfter.Round(time.Millisecond))
		}
		client, err := cp.Client()
		if err != nil {
			return err
		}
		e.LoadBalancers = append(e.LoadBalancers, StartLoadBalancers(client, e.Network.Plan.LoadBalancerPool(c), opts.Progress))
	}
	return nil
}
