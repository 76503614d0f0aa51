// SPDX-License-Identifier: Apache-2.0

package concierge

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// leaseName is the Lease replicas of one install compete for.
const leaseName = "selkie-concierge"

// runWhileLeader runs work while this replica holds the Lease, until ctx ends. Losing
// the lease (a missed renewal on a loaded API server, say) stops work and campaigns
// again; unlike controller-runtime's leader election it never ends the process, so the
// replica keeps serving logins meanwhile.
func runWhileLeader(ctx context.Context, kube kubernetes.Interface, namespace string, log *slog.Logger, work func(context.Context)) error {
	host, err := os.Hostname()
	if err != nil {
		return err
	}
	id := host + "_" + string(uuid.NewUUID())
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: namespace, Name: leaseName},
		Client:     kube.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
	cfg := leaderelection.LeaderElectionConfig{
		Lock: lock, Name: leaseName, ReleaseOnCancel: true,
		LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				log.InfoContext(ctx, "successfully acquired lease; running leader-only work", "lease", namespace+"/"+leaseName, "identity", id)
				work(ctx)
			},
			OnStoppedLeading: func() { log.Info("stopped leading", "lease", namespace+"/"+leaseName, "identity", id) },
		},
	}
	elector, err := leaderelection.NewLeaderElector(cfg)
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	go func() {
		for ctx.Err() == nil {
			elector.Run(ctx) // returns when leadership is lost or ctx ends
		}
	}()
	return nil
}
