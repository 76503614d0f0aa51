// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/selkie-dev/selkie/test/env"
)

// testImageTag is the Selkie image's tag in the nodes (built once per run by testImages).
const testImageTag = "selkie:it"

var (
	testImagesOnce sync.Once
	testImagesErr  error
)

// testImages builds the Selkie image and the network probe's image once per run and
// imports them into every node of every cluster.
func testImages(t *testing.T) {
	t.Helper()
	testImagesOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		tarball := filepath.Join(testWork, "images", "test-images.tar")
		if testImagesErr = env.BuildTestImages(ctx, tarball, "it", testImageTag); testImagesErr != nil {
			return
		}
		for _, c := range testEnv.Clusters {
			for _, n := range c.Nodes {
				if testImagesErr = env.ImportImage(ctx, testEnv.NodeBin, n, tarball); testImagesErr != nil {
					return
				}
			}
		}
	})
	if testImagesErr != nil {
		t.Fatalf("test images: %v", testImagesErr)
	}
}

// restrictedNamespace creates a namespace that enforces PodSecurity "restricted",
// deleted when the test ends.
func restrictedNamespace(t *testing.T, client kubernetes.Interface, prefix string) string {
	t.Helper()
	ctx := testContext(t)
	ns, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: prefix,
		Labels:       map[string]string{"pod-security.kubernetes.io/enforce": "restricted"},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{}) })
	return ns.Name
}

// restricted is a container security context PodSecurity "restricted" admits.
func restricted() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsNonRoot: ptr(true), AllowPrivilegeEscalation: ptr(false), ReadOnlyRootFilesystem: ptr(true),
		Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

func clusterClient(t *testing.T, c env.ClusterInfo) kubernetes.Interface {
	t.Helper()
	return kubernetes.NewForConfigOrDie(adminConfig(t, c.Kubeconfig))
}

// TestNodes: every cluster's nodes are Ready, run pods from our own image under
// PodSecurity "restricted", and the API server reaches their kubelets (logs, exec).
func TestNodes(t *testing.T) {
	if len(testEnv.Management().Nodes) == 0 {
		t.Fatal("the environment has no nodes (started with NoNodes?)")
	}
	for _, c := range testEnv.Clusters {
		client := clusterClient(t, c)
		for _, n := range c.Nodes {
			node, err := client.CoreV1().Nodes().Get(testContext(t), n.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("cluster %s: node %s: %v", c.Name, n.Name, err)
			}
			if !nodeReady(node) {
				t.Errorf("cluster %s: node %s is not Ready: %+v", c.Name, n.Name, node.Status.Conditions)
			}
		}
	}
	testImages(t)
	client := adminClient(t)
	ns := restrictedNamespace(t, client, "nodes-")
	ctx := testContext(t)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "version"},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{
			Name: "selkie", Image: testImageTag, ImagePullPolicy: corev1.PullNever,
			Command: []string{"selkie", "version"}, SecurityContext: restricted(),
		}}},
	}
	if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "pod version succeeded", func() (bool, error) {
		p, err := client.CoreV1().Pods(ns).Get(ctx, "version", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if p.Status.Phase == corev1.PodFailed {
			t.Fatalf("pod failed: %+v", p.Status)
		}
		return p.Status.Phase == corev1.PodSucceeded, fmt.Errorf("phase %s", p.Status.Phase)
	})
	if out := mustKubectl(t, "-n", ns, "logs", "version"); !strings.Contains(out, "it") {
		t.Errorf("kubectl logs: the version pod printed %q, want the version the image was built with", out)
	}

	// A privileged pod is refused by the namespace's PodSecurity level.
	bad := pod.DeepCopy()
	bad.Name, bad.Spec.Containers[0].SecurityContext = "privileged", &corev1.SecurityContext{Privileged: ptr(true)}
	if _, err := client.CoreV1().Pods(ns).Create(ctx, bad, metav1.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
		t.Errorf("privileged pod in a restricted namespace: got %v, want a PodSecurity refusal", err)
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// netcheckServer runs the network probe as a Deployment of replicas pods behind a
// ClusterIP Service and a LoadBalancer Service, and returns the load balancer's address.
func netcheckServer(t *testing.T, client kubernetes.Interface, ns string, replicas int32) (clusterIP, lbIP string) {
	t.Helper()
	ctx := testContext(t)
	labels := map[string]string{"app": "netcheck"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "netcheck"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				Containers: []corev1.Container{{
					Name: "netcheck", Image: env.NetcheckImageName, ImagePullPolicy: corev1.PullNever,
					Args: []string{"serve", "-listen", ":8080"}, SecurityContext: restricted(),
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(8080)}},
						PeriodSeconds: 1},
				}},
			}},
		},
	}
	if _, err := client.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []corev1.ServiceType{corev1.ServiceTypeClusterIP, corev1.ServiceTypeLoadBalancer} {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "netcheck-" + strings.ToLower(string(typ))},
			Spec: corev1.ServiceSpec{Type: typ, Selector: labels,
				Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
		}
		if _, err := client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 2*time.Minute, "netcheck Deployment available with a load balancer", func() (bool, error) {
		d, err := client.AppsV1().Deployments(ns).Get(ctx, "netcheck", metav1.GetOptions{})
		if err != nil || d.Status.AvailableReplicas != replicas {
			return false, err
		}
		ci, err := client.CoreV1().Services(ns).Get(ctx, "netcheck-clusterip", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		lb, err := client.CoreV1().Services(ns).Get(ctx, "netcheck-loadbalancer", metav1.GetOptions{})
		if err != nil || len(lb.Status.LoadBalancer.Ingress) == 0 {
			return false, err
		}
		clusterIP, lbIP = ci.Spec.ClusterIP, lb.Status.LoadBalancer.Ingress[0].IP
		return true, nil
	})
	return clusterIP, lbIP
}

// TestNodeNetwork: pods reach each other through a Service, the host reaches a
// LoadBalancer Service, a pod of another cluster reaches it too, and pods reach the
// servers the host runs for them (Dex) and their own API server.
func TestNodeNetwork(t *testing.T) {
	testImages(t)
	mgmt, workload := testEnv.Clusters[0], testEnv.Clusters[1]
	client := clusterClient(t, mgmt)
	ns := restrictedNamespace(t, client, "netcheck-")
	clusterIP, lbIP := netcheckServer(t, client, ns, 2)

	// The host, through the load balancer.
	eventually(t, time.Minute, "host reaches the load balancer", func() (bool, error) {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + lbIP + "/")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("status %s", resp.Status)
	})

	// A pod of the same cluster, through the ClusterIP, and the API server's Service.
	kubeAPI := fmt.Sprintf("https://%s:443/readyz", mustKubectl(t, "get", "service", "kubernetes", "-o", "jsonpath={.spec.clusterIP}"))
	probe(t, mgmt, ns, "same-cluster", "http://"+clusterIP+"/", kubeAPI)

	// A pod of another cluster, through the management cluster's load balancer, and Dex
	// on the host.
	wclient := clusterClient(t, workload)
	wns := restrictedNamespace(t, wclient, "netcheck-")
	probe(t, workload, wns, "other-cluster", "http://"+lbIP+"/", testEnv.Dex.Issuer+"/.well-known/openid-configuration")
}

// probe runs `selkie-netcheck get urls...` as a pod of cluster c and fails the test
// unless every URL answered.
func probe(t *testing.T, c env.ClusterInfo, ns, name string, urls ...string) {
	t.Helper()
	client := clusterClient(t, c)
	ctx := testContext(t)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{
			Name: "get", Image: env.NetcheckImageName, ImagePullPolicy: corev1.PullNever,
			Args: append([]string{"get"}, urls...), SecurityContext: restricted(),
		}}},
	}
	if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var phase corev1.PodPhase
	eventually(t, 2*time.Minute, "probe pod "+name+" finished", func() (bool, error) {
		p, err := client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		phase = p.Status.Phase
		return phase == corev1.PodSucceeded || phase == corev1.PodFailed, nil
	})
	logs, _, _ := kubectlWith(t, c.Kubeconfig, "-n", ns, "logs", name)
	if phase != corev1.PodSucceeded {
		t.Fatalf("probe pod %s in cluster %s: %s\n%s", name, c.Name, phase, logs)
	}
	t.Logf("probe %s in cluster %s:\n%s", name, c.Name, logs)
}
