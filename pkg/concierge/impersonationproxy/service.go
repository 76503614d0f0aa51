// SPDX-License-Identifier: Apache-2.0

package impersonationproxy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
)

// DefaultLoadBalancerAnnotations are set on LoadBalancer Services unless the
// CredentialIssuer overrides them (§4.3).
func DefaultLoadBalancerAnnotations() map[string]string {
	return map[string]string{"service.beta.kubernetes.io/aws-load-balancer-connection-idle-timeout": "4000"}
}

// Active decides whether the proxy runs for spec (nil is mode auto). When it does not,
// disabledMessage is the §4.4 message that says why. Mode auto lists nodes: the proxy
// runs iff none is labelled as a control-plane node.
func Active(ctx context.Context, kube kubernetes.Interface, spec *configv1alpha1.ImpersonationProxySpec) (active bool, disabledMessage string, err error) {
	mode := configv1alpha1.ImpersonationProxyModeAuto
	if spec != nil && spec.Mode != "" {
		mode = spec.Mode
	}
	switch mode {
	case configv1alpha1.ImpersonationProxyModeEnabled:
		return true, "", nil
	case configv1alpha1.ImpersonationProxyModeDisabled:
		return false, configv1alpha1.DisabledByConfigurationStrategyMessage, nil
	case configv1alpha1.ImpersonationProxyModeAuto:
	default:
		return false, "", fmt.Errorf("invalid impersonation proxy mode %q", mode)
	}
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, "", fmt.Errorf("list nodes: %w", err)
	}
	for _, n := range nodes.Items {
		if IsControlPlaneNode(n.Labels) {
			return false, configv1alpha1.DisabledAutomaticallyStrategyMessage, nil
		}
	}
	return true, "", nil
}

// IsControlPlaneNode reports whether a node's labels mark it as a control-plane node.
func IsControlPlaneNode(labels map[string]string) bool {
	if _, ok := labels["node-role.kubernetes.io/control-plane"]; ok {
		return true
	}
	if _, ok := labels["node-role.kubernetes.io/master"]; ok {
		return true
	}
	role := labels["kubernetes.io/node-role"]
	return role == "control-plane" || role == "master"
}

// ServiceConfig says how to build the proxy's Service.
type ServiceConfig struct {
	Kube       kubernetes.Interface
	Namespace  string
	Name       string
	TargetPort int
	Selector   map[string]string
}

// errPending means the LoadBalancer has no address yet.
var errPending = errors.New(configv1alpha1.PendingLoadBalancerStrategyMessage)

// Endpoint makes the Service match spec and returns the host[:port] clients use: the
// externalEndpoint when set, else the Service's cluster IP or load balancer address. It
// returns errPending while a LoadBalancer has no address. With service type None it
// deletes any Service left over and requires the externalEndpoint.
func (c ServiceConfig) Endpoint(ctx context.Context, spec *configv1alpha1.ImpersonationProxySpec) (string, error) {
	typ := spec.Service.Type
	if typ == "" {
		typ = configv1alpha1.ImpersonationProxyServiceTypeLoadBalancer
	}
	if typ == configv1alpha1.ImpersonationProxyServiceTypeNone {
		if err := c.Delete(ctx); err != nil {
			return "", err
		}
		if spec.ExternalEndpoint == "" {
			return "", errors.New("spec.impersonationProxy.externalEndpoint must be set when service.type is None")
		}
		return spec.ExternalEndpoint, nil
	}
	svc, err := c.apply(ctx, c.desired(spec, typ))
	if err != nil {
		return "", err
	}
	if spec.ExternalEndpoint != "" {
		return spec.ExternalEndpoint, nil
	}
	if typ == configv1alpha1.ImpersonationProxyServiceTypeClusterIP {
		if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
			return "", fmt.Errorf("Service %s/%s has no cluster IP", c.Namespace, c.Name) //nolint:staticcheck // Service is a kind
		}
		return hostForURL(svc.Spec.ClusterIP), nil
	}
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			return hostForURL(in.IP), nil
		}
		if in.Hostname != "" {
			return in.Hostname, nil
		}
	}
	return "", errPending
}

// hostForURL brackets IPv6 addresses.
func hostForURL(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

func (c ServiceConfig) desired(spec *configv1alpha1.ImpersonationProxySpec, typ configv1alpha1.ImpersonationProxyServiceType) *corev1.Service {
	annotations := map[string]string{}
	if typ == configv1alpha1.ImpersonationProxyServiceTypeLoadBalancer {
		maps.Copy(annotations, DefaultLoadBalancerAnnotations())
	}
	maps.Copy(annotations, spec.Service.Annotations)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: c.Name, Namespace: c.Namespace, Annotations: annotations},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceType(typ),
			Selector: c.Selector,
			Ports: []corev1.ServicePort{{Name: "https", Protocol: corev1.ProtocolTCP, Port: 443,
				TargetPort: intstr.FromInt(c.TargetPort)}},
		},
	}
	if typ == configv1alpha1.ImpersonationProxyServiceTypeLoadBalancer {
		svc.Spec.LoadBalancerIP = spec.Service.LoadBalancerIP
	}
	return svc
}

// apply creates want or updates the fields we own on the existing Service. Others write
// the Service too (a load balancer controller its status and annotations), so an update
// that lost a race reads the Service again and retries.
func (c ServiceConfig) apply(ctx context.Context, want *corev1.Service) (*corev1.Service, error) {
	var out *corev1.Service
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var err error
		out, err = c.applyOnce(ctx, want)
		return err
	})
	return out, err
}

func (c ServiceConfig) applyOnce(ctx context.Context, want *corev1.Service) (*corev1.Service, error) {
	services := c.Kube.CoreV1().Services(c.Namespace)
	got, err := services.Get(ctx, c.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		created, err := services.Create(ctx, want, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("create Service %s/%s: %w", c.Namespace, c.Name, err)
		}
		return created, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read Service %s/%s: %w", c.Namespace, c.Name, err)
	}
	next := got.DeepCopy()
	if len(want.Annotations) > 0 && next.Annotations == nil {
		next.Annotations = map[string]string{}
	}
	maps.Copy(next.Annotations, want.Annotations) // others' annotations stay
	next.Spec.Type, next.Spec.Selector, next.Spec.Ports = want.Spec.Type, want.Spec.Selector, want.Spec.Ports
	next.Spec.LoadBalancerIP = want.Spec.LoadBalancerIP
	if reflect.DeepEqual(next, got) {
		return got, nil
	}
	updated, err := services.Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("update Service %s/%s: %w", c.Namespace, c.Name, err)
	}
	return updated, nil
}

// Delete removes the Service if it exists.
func (c ServiceConfig) Delete(ctx context.Context) error {
	err := c.Kube.CoreV1().Services(c.Namespace).Delete(ctx, c.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete Service %s/%s: %w", c.Namespace, c.Name, err)
	}
	return nil
}

// endpointHost is the host part of a host[:port] endpoint, without IPv6 brackets.
func endpointHost(endpoint string) string {
	if host, _, err := net.SplitHostPort(endpoint); err == nil {
		return host
	}
	return strings.TrimSuffix(strings.TrimPrefix(endpoint, "["), "]")
}
