// SPDX-License-Identifier: Apache-2.0

package impersonationproxy

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
)

func node(name string, labels map[string]string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func TestActive(t *testing.T) {
	t.Parallel()
	worker := node("worker", map[string]string{"kubernetes.io/os": "linux"})
	tests := []struct {
		name         string
		mode         configv1alpha1.ImpersonationProxyMode
		nodes        []runtime.Object
		wantActive   bool
		wantDisabled string
		wantErr      bool
	}{
		{name: "enabled", mode: configv1alpha1.ImpersonationProxyModeEnabled, nodes: []runtime.Object{node("cp", map[string]string{"node-role.kubernetes.io/control-plane": ""})}, wantActive: true},
		{name: "disabled", mode: configv1alpha1.ImpersonationProxyModeDisabled, wantDisabled: configv1alpha1.DisabledByConfigurationStrategyMessage},
		{name: "auto, no nodes", mode: configv1alpha1.ImpersonationProxyModeAuto, wantActive: true},
		{name: "empty mode is auto", wantActive: true, nodes: []runtime.Object{worker}},
		{name: "auto, control-plane label", mode: configv1alpha1.ImpersonationProxyModeAuto, nodes: []runtime.Object{worker, node("cp", map[string]string{"node-role.kubernetes.io/control-plane": ""})}, wantDisabled: configv1alpha1.DisabledAutomaticallyStrategyMessage},
		{name: "auto, master label", mode: configv1alpha1.ImpersonationProxyModeAuto, nodes: []runtime.Object{node("m", map[string]string{"node-role.kubernetes.io/master": "true"})}, wantDisabled: configv1alpha1.DisabledAutomaticallyStrategyMessage},
		{name: "auto, node-role master", mode: configv1alpha1.ImpersonationProxyModeAuto, nodes: []runtime.Object{node("m", map[string]string{"kubernetes.io/node-role": "master"})}, wantDisabled: configv1alpha1.DisabledAutomaticallyStrategyMessage},
		{name: "auto, node-role control-plane", mode: configv1alpha1.ImpersonationProxyModeAuto, nodes: []runtime.Object{node("m", map[string]string{"kubernetes.io/node-role": "control-plane"})}, wantDisabled: configv1alpha1.DisabledAutomaticallyStrategyMessage},
		{name: "auto, node-role worker", mode: configv1alpha1.ImpersonationProxyModeAuto, nodes: []runtime.Object{node("w", map[string]string{"kubernetes.io/node-role": "worker"})}, wantActive: true},
		{name: "invalid mode", mode: "sometimes", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			active, disabled, err := Active(context.Background(), fake.NewClientset(tt.nodes...), &configv1alpha1.ImpersonationProxySpec{Mode: tt.mode})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff([]any{tt.wantActive, tt.wantDisabled}, []any{active, disabled}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestEndpoint(t *testing.T) {
	t.Parallel()
	existing := func(typ corev1.ServiceType, mutate func(*corev1.Service)) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "p-impersonation-proxy", Namespace: "ns", Annotations: map[string]string{"other": "kept"}},
			Spec: corev1.ServiceSpec{Type: typ, ClusterIP: "10.0.0.7"}}
		if mutate != nil {
			mutate(s)
		}
		return s
	}
	tests := []struct {
		name            string
		spec            configv1alpha1.ImpersonationProxySpec
		objects         []runtime.Object
		want            string
		wantErr         error
		wantAnyErr      bool
		wantService     bool
		wantAnnotations map[string]string
		wantType        corev1.ServiceType
	}{
		{name: "None uses the external endpoint and deletes the Service",
			spec:    configv1alpha1.ImpersonationProxySpec{Service: configv1alpha1.ImpersonationProxyServiceSpec{Type: "None"}, ExternalEndpoint: "proxy.example.com:8443"},
			objects: []runtime.Object{existing(corev1.ServiceTypeClusterIP, nil)}, want: "proxy.example.com:8443"},
		{name: "None without endpoint", spec: configv1alpha1.ImpersonationProxySpec{Service: configv1alpha1.ImpersonationProxyServiceSpec{Type: "None"}}, wantAnyErr: true},
		{name: "ClusterIP uses the cluster IP",
			spec:    configv1alpha1.ImpersonationProxySpec{Service: configv1alpha1.ImpersonationProxyServiceSpec{Type: "ClusterIP", Annotations: map[string]string{"a": "b"}}},
			objects: []runtime.Object{existing(corev1.ServiceTypeClusterIP, nil)}, want: "10.0.0.7",
			wantService: true, wantType: corev1.ServiceTypeClusterIP, wantAnnotations: map[string]string{"a": "b", "other": "kept"}},
		{name: "ClusterIP with external endpoint",
			spec:    configv1alpha1.ImpersonationProxySpec{Service: configv1alpha1.ImpersonationProxyServiceSpec{Type: "ClusterIP"}, ExternalEndpoint: "1.2.3.4"},
			objects: []runtime.Object{existing(corev1.ServiceTypeClusterIP, nil)}, want: "1.2.3.4", wantService: true, wantType: corev1.ServiceTypeClusterIP,
			wantAnnotations: map[string]string{"other": "kept"}},
		{name: "new LoadBalancer is pending", spec: configv1alpha1.ImpersonationProxySpec{}, wantErr: errPending, wantService: true, wantType: corev1.ServiceTypeLoadBalancer,
			wantAnnotations: DefaultLoadBalancerAnnotations()},
		{name: "LoadBalancer with IPv6 ingress",
			spec: configv1alpha1.ImpersonationProxySpec{Service: configv1alpha1.ImpersonationProxyServiceSpec{Type: "LoadBalancer",
				Annotations: map[string]string{"service.beta.kubernetes.io/aws-load-balancer-connection-idle-timeout": "10"}}},
			objects: []runtime.Object{existing(corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) {
				s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "fd00::1"}}
			})},
			want: "[fd00::1]", wantService: true, wantType: corev1.ServiceTypeLoadBalancer,
			wantAnnotations: map[string]string{"service.beta.kubernetes.io/aws-load-balancer-connection-idle-timeout": "10", "other": "kept"}},
		{name: "LoadBalancer with hostname",
			spec: configv1alpha1.ImpersonationProxySpec{Service: configv1alpha1.ImpersonationProxyServiceSpec{Type: "LoadBalancer"}},
			objects: []runtime.Object{existing(corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) {
				s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{Hostname: "lb.example.com"}}
			})},
			want: "lb.example.com", wantService: true, wantType: corev1.ServiceTypeLoadBalancer,
			wantAnnotations: map[string]string{"service.beta.kubernetes.io/aws-load-balancer-connection-idle-timeout": "4000", "other": "kept"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kube := fake.NewClientset(tt.objects...)
			c := ServiceConfig{Kube: kube, Namespace: "ns", Name: "p-impersonation-proxy", TargetPort: 8444, Selector: map[string]string{"app": "x"}}
			spec := tt.spec
			got, err := c.Endpoint(context.Background(), &spec)
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			case tt.wantErr == nil && (err != nil) != tt.wantAnyErr:
				t.Fatalf("err %v, wantAnyErr %v", err, tt.wantAnyErr)
			}
			if got != tt.want {
				t.Errorf("endpoint %q, want %q", got, tt.want)
			}
			svc, err := kube.CoreV1().Services("ns").Get(context.Background(), "p-impersonation-proxy", metav1.GetOptions{})
			if (err == nil) != tt.wantService {
				t.Fatalf("Service exists: %v, want %v", err == nil, tt.wantService)
			}
			if !tt.wantService {
				return
			}
			if diff := cmp.Diff(tt.wantAnnotations, svc.Annotations); diff != "" {
				t.Errorf("annotations (-want +got):\n%s", diff)
			}
			wantPorts := []corev1.ServicePort{{Name: "https", Protocol: corev1.ProtocolTCP, Port: 443, TargetPort: intstr.FromInt(8444)}}
			if diff := cmp.Diff(wantPorts, svc.Spec.Ports); diff != "" {
				t.Errorf("ports (-want +got):\n%s", diff)
			}
			if svc.Spec.Type != tt.wantType || svc.Spec.Selector["app"] != "x" {
				t.Errorf("type %q selector %v", svc.Spec.Type, svc.Spec.Selector)
			}
		})
	}
}

func TestEndpointHost(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"127.0.0.1:8444": "127.0.0.1", "example.com": "example.com", "[fd00::1]": "fd00::1", "[fd00::1]:443": "fd00::1", "1.2.3.4": "1.2.3.4"} {
		if got := endpointHost(in); got != want {
			t.Errorf("endpointHost(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestApplyRetriesAConflict: a load balancer controller writing the Service between our
// read and our update makes the update conflict; apply reads again and succeeds, keeping
// what the other writer wrote.
func TestApplyRetriesAConflict(t *testing.T) {
	t.Parallel()
	c := ServiceConfig{Namespace: "ns", Name: "proxy", TargetPort: 8444, Selector: map[string]string{"app": "concierge"}}
	existing := c.desired(&configv1alpha1.ImpersonationProxySpec{}, configv1alpha1.ImpersonationProxyServiceTypeClusterIP)
	kube := fake.NewClientset(existing)
	c.Kube = kube
	conflicts := 0
	kube.PrependReactor("update", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts > 0 {
			return false, nil, nil
		}
		conflicts++
		// Another writer's change lands first.
		svc, err := kube.Tracker().Get(corev1.SchemeGroupVersion.WithResource("services"), "ns", "proxy")
		if err != nil {
			return true, nil, err
		}
		other := svc.(*corev1.Service).DeepCopy()
		other.Annotations = map[string]string{"lb.example/owner": "them"}
		if err := kube.Tracker().Update(corev1.SchemeGroupVersion.WithResource("services"), other, "ns"); err != nil {
			return true, nil, err
		}
		return true, nil, apierrors.NewConflict(corev1.Resource("services"), "proxy", errors.New("modified"))
	})
	want := c.desired(&configv1alpha1.ImpersonationProxySpec{}, configv1alpha1.ImpersonationProxyServiceTypeLoadBalancer)
	got, err := c.apply(context.Background(), want)
	if err != nil {
		t.Fatalf("apply after a conflict: %v", err)
	}
	if conflicts != 1 || got.Spec.Type != corev1.ServiceTypeLoadBalancer || got.Annotations["lb.example/owner"] != "them" {
		t.Errorf("after %d conflicts: type %s, annotations %v; want LoadBalancer with the other writer's annotation kept",
			conflicts, got.Spec.Type, got.Annotations)
	}
}
