// SPDX-License-Identifier: Apache-2.0

package env

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// LoadBalancers does for one cluster what a cloud's load-balancer controller does: it
// gives every Service of type LoadBalancer (without a loadBalancerClass) an address from
// the cluster's pool and writes it to the Service's status. The address needs no
// forwarder: the host and the other clusters' nodes route the pool to a node of this
// cluster (NetPlan), where kube-proxy sends it to a ready endpoint, as it does for a
// cloud load balancer's traffic. A Service may ask for a fixed address of the pool with
// spec.loadBalancerIP, so a test can know an issuer URL before the Service exists.
type LoadBalancers struct {
	pool   netip.Prefix
	client kubernetes.Interface
	log    io.Writer

	cancel context.CancelFunc
	done   chan struct{}
	kick   chan struct{}
	mu     sync.Mutex
	err    error
}

// StartLoadBalancers runs the controller until Stop. log receives one line per address
// given or taken back; nil discards.
func StartLoadBalancers(client kubernetes.Interface, pool netip.Prefix, log io.Writer) *LoadBalancers {
	if log == nil {
		log = io.Discard
	}
	ctx, cancel := context.WithCancel(context.Background())
	lb := &LoadBalancers{pool: pool, client: client, log: log, cancel: cancel, done: make(chan struct{}), kick: make(chan struct{}, 1)}
	factory := informers.NewSharedInformerFactory(client, 10*time.Minute)
	services := factory.Core().V1().Services()
	kick := func(any) { lb.trigger() }
	_, _ = services.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: kick, DeleteFunc: kick, UpdateFunc: func(_, o any) { kick(o) },
	})
	factory.Start(ctx.Done())
	go func() {
		defer close(lb.done)
		factory.WaitForCacheSync(ctx.Done())
		for {
			select {
			case <-ctx.Done():
				factory.Shutdown()
				return
			case <-lb.kick:
			}
			list, err := services.Lister().List(labels.Everything())
			if err == nil {
				err = lb.reconcile(ctx, list)
			}
			lb.mu.Lock()
			lb.err = err
			lb.mu.Unlock()
			if err != nil && ctx.Err() == nil {
				time.AfterFunc(time.Second, lb.trigger)
			}
		}
	}()
	return lb
}

func (lb *LoadBalancers) trigger() {
	select {
	case lb.kick <- struct{}{}:
	default:
	}
}

// Err is the last reconcile's error, if any (it is retried every second).
func (lb *LoadBalancers) Err() error {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.err
}

// Stop ends the controller; addresses already given stay in the Services' status.
func (lb *LoadBalancers) Stop() {
	if lb == nil {
		return
	}
	lb.cancel()
	<-lb.done
}

// reconcile keeps every address already given that is still valid and unique, then
// gives the rest (requested address first, else the lowest free one) in name order.
func (lb *LoadBalancers) reconcile(ctx context.Context, list []*corev1.Service) error {
	sort.Slice(list, func(i, j int) bool {
		return list[i].Namespace+"/"+list[i].Name < list[j].Namespace+"/"+list[j].Name
	})
	used := map[netip.Addr]bool{}
	var pending []*corev1.Service
	for _, svc := range list {
		if !managed(svc) {
			continue
		}
		if ip, ok := lb.assigned(svc); ok && !used[ip] {
			used[ip] = true
			continue
		}
		pending = append(pending, svc)
	}
	for _, svc := range pending {
		ip, err := lb.choose(svc, used)
		if err != nil {
			return err
		}
		used[ip] = true
		svc = svc.DeepCopy()
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip.String()}}
		if _, err := lb.client.CoreV1().Services(svc.Namespace).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("load balancer: status of Service %s/%s: %w", svc.Namespace, svc.Name, err)
		}
		fmt.Fprintf(lb.log, "env: load balancer %s for Service %s/%s\n", ip, svc.Namespace, svc.Name)
	}
	return nil
}

func managed(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.LoadBalancerClass == nil
}

// assigned returns the Service's current address if it is from the pool and is what
// the Service asked for (when it asked).
func (lb *LoadBalancers) assigned(svc *corev1.Service) (netip.Addr, bool) {
	ing := svc.Status.LoadBalancer.Ingress
	if len(ing) != 1 {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(ing[0].IP)
	if err != nil || !lb.pool.Contains(ip) {
		return netip.Addr{}, false
	}
	if want := svc.Spec.LoadBalancerIP; want != "" && want != ip.String() {
		return netip.Addr{}, false
	}
	return ip, true
}

func (lb *LoadBalancers) choose(svc *corev1.Service, used map[netip.Addr]bool) (netip.Addr, error) {
	if want := svc.Spec.LoadBalancerIP; want != "" {
		ip, err := netip.ParseAddr(want)
		switch {
		case err != nil || !lb.pool.Contains(ip):
			return netip.Addr{}, fmt.Errorf("load balancer: Service %s/%s asks for %s, which is not in the pool %s", svc.Namespace, svc.Name, want, lb.pool)
		case used[ip]:
			return netip.Addr{}, fmt.Errorf("load balancer: Service %s/%s asks for %s, which another Service has", svc.Namespace, svc.Name, want)
		}
		return ip, nil
	}
	// .1 to .9 are left for requested addresses; .255 is the broadcast address.
	ip := lb.pool.Addr()
	for range 10 {
		ip = ip.Next()
	}
	for ; lb.pool.Contains(ip) && ip.As4()[3] != 255; ip = ip.Next() {
		if !used[ip] {
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("load balancer: the pool %s is exhausted", lb.pool)
}
