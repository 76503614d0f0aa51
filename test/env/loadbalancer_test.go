// SPDX-License-Identifier: Apache-2.0

package env

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func lbService(name, requested string, typ corev1.ServiceType) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec:       corev1.ServiceSpec{Type: typ, LoadBalancerIP: requested},
	}
}

func ingressIP(t *testing.T, client *fake.Clientset, name string) string {
	t.Helper()
	svc, err := client.CoreV1().Services("ns").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(svc.Status.LoadBalancer.Ingress) == 0 {
		return ""
	}
	return svc.Status.LoadBalancer.Ingress[0].IP
}

func TestLoadBalancersReconcile(t *testing.T) {
	pool := netip.MustParsePrefix("198.18.16.0/24")
	a, b := lbService("a", "", corev1.ServiceTypeLoadBalancer), lbService("b", "198.18.16.3", corev1.ServiceTypeLoadBalancer)
	c := lbService("c", "", corev1.ServiceTypeClusterIP)
	classed := lbService("d", "", corev1.ServiceTypeLoadBalancer)
	classed.Spec.LoadBalancerClass = new(string)
	*classed.Spec.LoadBalancerClass = "example.com/other"
	client := fake.NewClientset(a, b, c, classed)
	lb := &LoadBalancers{pool: pool, client: client, log: &strings.Builder{}}
	if err := lb.reconcile(context.Background(), []*corev1.Service{a, b, c, classed}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"a": "198.18.16.10", "b": "198.18.16.3", "c": "", "d": ""} {
		if got := ingressIP(t, client, name); got != want {
			t.Errorf("Service %s got %q, want %q", name, got, want)
		}
	}

	// A second Service asking for a taken address is refused by name; an address
	// outside the pool too.
	taken := lbService("e", "198.18.16.3", corev1.ServiceTypeLoadBalancer)
	b.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "198.18.16.3"}}
	if err := lb.reconcile(context.Background(), []*corev1.Service{b, taken}); err == nil || !strings.Contains(err.Error(), "another Service") {
		t.Errorf("taken address: got %v", err)
	}
	outside := lbService("f", "10.1.2.3", corev1.ServiceTypeLoadBalancer)
	if err := lb.reconcile(context.Background(), []*corev1.Service{outside}); err == nil || !strings.Contains(err.Error(), "not in the pool") {
		t.Errorf("outside address: got %v", err)
	}
}

// The running controller notices a new LoadBalancer Service and keeps a Service's
// address across restarts (what it wrote is what it reads back).
func TestLoadBalancersController(t *testing.T) {
	client := fake.NewClientset()
	lb := StartLoadBalancers(client, netip.MustParsePrefix("198.18.16.0/24"), nil)
	defer lb.Stop()
	ctx := context.Background()
	if _, err := client.CoreV1().Services("ns").Create(ctx, lbService("x", "", corev1.ServiceTypeLoadBalancer), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for ingressIP(t, client, "x") == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no address given within 10s (last error %v)", lb.Err())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := ingressIP(t, client, "x"); got != "198.18.16.10" {
		t.Errorf("got %s, want the pool's first free address 198.18.16.10", got)
	}
}
