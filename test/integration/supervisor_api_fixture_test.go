//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"context"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"

	supervisorclient "github.com/selkie-dev/selkie/generated/client/supervisor/clientset/versioned"
)

// supervisorAPIService and supervisorSessionAPIService are the APIServices of the
// supervisor's aggregated groups.
const (
	supervisorAPIService        = "v1alpha1.clientsecret.supervisor.selkie.dev"
	supervisorSessionAPIService = "v1alpha1.session.supervisor.selkie.dev"
)

// supervisorAPI is the aggregated API (clientsecret.supervisor.selkie.dev and
// session.supervisor.selkie.dev) of a test supervisor, reached through the management
// cluster's API server.
type supervisorAPI struct {
	port int
	// client is the generated clientset, as the management cluster's admin.
	client supervisorclient.Interface
}

// startSupervisorWithAPI starts a supervisor that also serves its aggregated API on a
// free loopback port, and registers that port as the APIServices (removed after the
// test, as only one supervisor can serve the groups at a time).
func startSupervisorWithAPI(t testing.TB, extra ...string) (*supervisor, *supervisorAPI) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := startSupervisor(t, append([]string{"--api-bind-address", "127.0.0.1", "--api-port", strconv.Itoa(port)}, extra...)...)
	ctx, cancel := context.WithTimeout(testContext(t), 60*time.Second)
	defer cancel()
	// As for the concierge: the APIService only once the process answers, or the
	// aggregator backs off for a while.
	if err := waitHealthy(ctx, port); err != nil {
		log, _ := os.ReadFile(s.logFile)
		t.Fatalf("the supervisor's API did not answer /healthz: %v\n%s", err, log)
	}
	kubeconfig := testEnv.Management().Kubeconfig
	agg := aggregator.NewForConfigOrDie(adminConfig(t, kubeconfig))
	t.Cleanup(func() {
		for _, name := range []string{supervisorAPIService, supervisorSessionAPIService} {
			_ = agg.ApiregistrationV1().APIServices().Delete(context.Background(), name, metav1.DeleteOptions{})
		}
	})
	if err := applyYAML(kubeconfig, supervisorAPIYAML(s.namespace, port)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{supervisorAPIService, supervisorSessionAPIService} {
		if out, errOut, err := kubectl(t, "wait", "--for=condition=Available", "--timeout=60s", "apiservice/"+name); err != nil {
			log, _ := os.ReadFile(s.logFile)
			t.Fatalf("APIService %s not Available: %v\n%s%s\nsupervisor log:\n%s", name, err, out, errOut, log)
		}
	}
	return s, &supervisorAPI{port: port, client: supervisorclient.NewForConfigOrDie(adminConfig(t, kubeconfig))}
}

// supervisorAPIYAML is what the shipped install provides for the supervisor's aggregated
// APIs (the clientsecret API of docs/wire-contract.md §1.12 and the Selkie-only session
// API), for a supervisor on 127.0.0.1:port in namespace ns; the supervisor fills in the
// APIServices' caBundles.
func supervisorAPIYAML(ns string, port int) string {
	return outOfClusterYAML("supervisor", ns, port, func(string, string) bool { return false })
}
