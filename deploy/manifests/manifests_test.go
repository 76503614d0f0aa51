// SPDX-License-Identifier: Apache-2.0

package manifests

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"sigs.k8s.io/yaml"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/concierge/controller/credentialissuer"
)

// component is one component's two manifest files (<dir>-crds.yaml, <dir>.yaml) and
// where its objects must live.
type component struct {
	dir       string
	namespace string
	crdGroup  string // CRDs of groups ending in this belong to the component
	// elsewhere are the namespaced objects deliberately outside the namespace, by
	// "Kind/name".
	elsewhere map[string]string
}

func components() []component {
	return []component{
		{dir: "concierge", namespace: "selkie-concierge", crdGroup: ".concierge.selkie.dev", elsewhere: map[string]string{
			"RoleBinding/selkie-concierge-extension-apiserver-authentication-reader": "kube-system",
			"Role/selkie-concierge-cluster-info-reader":                              "kube-public",
			"RoleBinding/selkie-concierge-cluster-info-reader":                       "kube-public",
		}},
		{dir: "supervisor", namespace: "selkie-supervisor", crdGroup: ".supervisor.selkie.dev", elsewhere: map[string]string{
			"RoleBinding/selkie-supervisor-extension-apiserver-authentication-reader": "kube-system",
		}},
	}
}

// typed returns an empty object of the Go type for kind, or nil for an unexpected kind.
// No custom resource is expected: one cannot be applied in the same kubectl apply or
// helm install as its CRD (the concierge creates its CredentialIssuer itself).
func typed(kind string) any {
	switch kind {
	case "Namespace":
		return &corev1.Namespace{}
	case "ServiceAccount":
		return &corev1.ServiceAccount{}
	case "Service":
		return &corev1.Service{}
	case "Secret":
		return &corev1.Secret{}
	case "ClusterRole":
		return &rbacv1.ClusterRole{}
	case "ClusterRoleBinding":
		return &rbacv1.ClusterRoleBinding{}
	case "Role":
		return &rbacv1.Role{}
	case "RoleBinding":
		return &rbacv1.RoleBinding{}
	case "CustomResourceDefinition":
		return &apiextensionsv1.CustomResourceDefinition{}
	case "APIService":
		return &apiregistrationv1.APIService{}
	case "Deployment":
		return &appsv1.Deployment{}
	}
	return nil
}

// clusterScoped are the kinds above that have no namespace.
func clusterScoped(kind string) bool {
	return slices.Contains([]string{"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "APIService"}, kind)
}

// object is one parsed document with its typed form.
type object struct {
	file  string
	u     *unstructured.Unstructured
	typed any
}

// load parses a component's two files, CRDs first, strictly into their types.
func load(t *testing.T, component string) []object {
	t.Helper()
	files := []string{component + "-crds.yaml", component + ".yaml"}
	var objs []object
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := reader.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(doc, &u.Object); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if len(u.Object) == 0 {
				continue // a comment-only document
			}
			obj := typed(u.GetKind())
			if obj == nil {
				t.Fatalf("%s: unexpected kind %s", file, u.GroupVersionKind())
			}
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				t.Fatalf("%s: %s %s does not parse strictly: %v", file, u.GetKind(), u.GetName(), err)
			}
			objs = append(objs, object{file: filepath.Base(file), u: u, typed: obj})
		}
	}
	return objs
}

func TestObjectsAreInTheirNamespaces(t *testing.T) {
	for _, c := range components() {
		t.Run(c.dir, func(t *testing.T) {
			seen := map[string]bool{}
			for _, o := range load(t, c.dir) {
				key := o.u.GetKind() + "/" + o.u.GetName()
				if seen[key+"/"+o.u.GetNamespace()] {
					t.Errorf("%s: %s appears twice", o.file, key)
				}
				seen[key+"/"+o.u.GetNamespace()] = true
				want := c.namespace
				if ns, ok := c.elsewhere[key]; ok {
					want = ns
				}
				if clusterScoped(o.u.GetKind()) {
					want = ""
				}
				if got := o.u.GetNamespace(); got != want {
					t.Errorf("%s: %s has namespace %q, want %q", o.file, key, got, want)
				}
				if o.u.GetKind() == "Namespace" && o.u.GetName() != c.namespace {
					t.Errorf("%s: unexpected Namespace %s", o.file, o.u.GetName())
				}
			}
			if !seen["Namespace/"+c.namespace+"/"] {
				t.Errorf("no Namespace %s", c.namespace)
			}
		})
	}
}

func TestNoSecretDataIsShipped(t *testing.T) {
	for _, c := range components() {
		for _, o := range load(t, c.dir) {
			if s, ok := o.typed.(*corev1.Secret); ok && (len(s.Data) > 0 || len(s.StringData) > 0) {
				t.Errorf("%s: Secret %s/%s carries data; the servers create their Secrets themselves", o.file, s.Namespace, s.Name)
			}
		}
	}
}

// TestCRDsAreGenerated checks <component>-crds.yaml holds exactly the component's CRDs
// of generated/crds (ytt re-indents them, so they are compared as data).
func TestCRDsAreGenerated(t *testing.T) {
	generated, err := filepath.Glob(filepath.Join("..", "..", "generated", "crds", "*.yaml"))
	if err != nil || len(generated) == 0 {
		t.Fatalf("no generated CRDs: %v", err)
	}
	for _, c := range components() {
		want := map[string]map[string]any{}
		for _, file := range generated {
			group := strings.SplitN(filepath.Base(file), "_", 2)[0]
			if !strings.HasSuffix(group, c.crdGroup) {
				continue
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			crd := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(data, &crd.Object); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			want[crd.GetName()] = crd.Object
		}
		got := map[string]map[string]any{}
		for _, o := range load(t, c.dir) {
			if o.file == c.dir+"-crds.yaml" {
				got[o.u.GetName()] = o.u.Object
			}
		}
		if len(got) != len(want) || len(want) == 0 {
			t.Fatalf("%s-crds.yaml holds %d CRDs, generated/crds %d", c.dir, len(got), len(want))
		}
		for name, crd := range want {
			if !equality.Semantic.DeepEqual(got[name], crd) {
				t.Errorf("%s-crds.yaml: CRD %s differs from generated/crds or is missing; run make generate", c.dir, name)
			}
		}
	}
}

// TestRBACRulesAreCommented checks that in the Carvel templates the manifests are
// rendered from, a comment saying why precedes every rule (ytt drops comments, so the
// rendered files cannot carry them; docs/install.md has the same reasons in tables).
func TestRBACRulesAreCommented(t *testing.T) {
	for _, c := range components() {
		file := filepath.Join("..", "carvel", c.dir, "config", "30-rbac.yaml")
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		rules := 0
		for i, line := range lines {
			if strings.HasPrefix(line, "- apiGroups:") || strings.HasPrefix(line, "- nonResourceURLs:") {
				rules++
				if i == 0 || !strings.HasPrefix(lines[i-1], "#!") {
					t.Errorf("%s:%d: rule without a comment saying why", file, i+1)
				}
			}
		}
		if rules < 5 {
			t.Errorf("%s: only %d rules found; has the template's layout changed?", file, rules)
		}
	}
}

func TestAPIServicesPointAtTheirService(t *testing.T) {
	for _, c := range components() {
		n := 0
		for _, o := range load(t, c.dir) {
			svc, ok := o.typed.(*apiregistrationv1.APIService)
			if !ok {
				continue
			}
			n++
			s := svc.Spec
			if s.Service == nil || s.Service.Namespace != c.namespace || s.Service.Name != "selkie-"+c.dir+"-api" ||
				s.Service.Port == nil || *s.Service.Port != 443 || s.GroupPriorityMinimum != 9900 || s.VersionPriority != 15 ||
				svc.Name != s.Version+"."+s.Group || len(s.CABundle) != 0 {
				t.Errorf("%s: APIService %s: unexpected spec %+v", o.file, svc.Name, s)
			}
		}
		if n != 2 {
			t.Errorf("%s: %d APIServices, want 2", c.dir, n)
		}
	}
}

func TestPodsAreLockedDown(t *testing.T) {
	for _, c := range components() {
		for _, o := range load(t, c.dir) {
			d, ok := o.typed.(*appsv1.Deployment)
			if !ok {
				continue
			}
			pod := d.Spec.Template.Spec
			if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 || pod.ServiceAccountName != "selkie-"+c.dir {
				t.Errorf("%s: Deployment %s: want 2 replicas as ServiceAccount selkie-%s", o.file, d.Name, c.dir)
			}
			if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot ||
				psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("%s: Deployment %s: pod must run non-root with seccomp RuntimeDefault", o.file, d.Name)
			}
			for _, ctr := range pod.Containers {
				sc := ctr.SecurityContext
				if ctr.Image != "selkie:dev" || sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
					sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
					sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
					t.Errorf("%s: container %s: want image selkie:dev, a read-only root filesystem, no privilege escalation and all capabilities dropped", o.file, ctr.Name)
				}
			}
		}
	}
}

func TestCredentialIssuerSpecParses(t *testing.T) {
	n := 0
	for _, o := range load(t, "concierge") {
		d, ok := o.typed.(*appsv1.Deployment)
		if !ok {
			continue
		}
		for _, arg := range d.Spec.Template.Spec.Containers[0].Args {
			v, ok := strings.CutPrefix(arg, "--credential-issuer-spec=")
			if !ok {
				continue
			}
			n++
			spec, err := credentialissuer.ParseSpec(v)
			if err != nil {
				t.Fatalf("%s: %v", o.file, err)
			}
			if p := spec.ImpersonationProxy; p.Mode != configv1alpha1.ImpersonationProxyModeAuto || p.Service.Type != configv1alpha1.ImpersonationProxyServiceTypeLoadBalancer {
				t.Errorf("%s: CredentialIssuer spec %+v, want the proxy in auto mode behind a LoadBalancer", o.file, p)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d --credential-issuer-spec arguments in the concierge Deployment, want 1", n)
	}
}

// TestEveryoneMayLogIn checks the concierge's login ClusterRole: everyone, anonymous
// included, may create and list TokenCredentialRequests and WhoAmIRequests, as the
// reference install allows (listing answers an empty list).
func TestEveryoneMayLogIn(t *testing.T) {
	var role *rbacv1.ClusterRole
	var binding *rbacv1.ClusterRoleBinding
	for _, o := range load(t, "concierge") {
		switch v := o.typed.(type) {
		case *rbacv1.ClusterRole:
			if v.Name == "selkie-concierge-login" {
				role = v
			}
		case *rbacv1.ClusterRoleBinding:
			if v.Name == "selkie-concierge-login" {
				binding = v
			}
		}
	}
	if role == nil || binding == nil {
		t.Fatal("no ClusterRole and ClusterRoleBinding selkie-concierge-login")
	}
	want := []rbacv1.PolicyRule{
		{APIGroups: []string{"login.concierge.selkie.dev"}, Resources: []string{"tokencredentialrequests"}, Verbs: []string{"create", "list"}},
		{APIGroups: []string{"identity.concierge.selkie.dev"}, Resources: []string{"whoamirequests"}, Verbs: []string{"create", "list"}},
	}
	if !reflect.DeepEqual(role.Rules, want) {
		t.Errorf("rules %+v, want %+v", role.Rules, want)
	}
	var subjects []string
	for _, s := range binding.Subjects {
		subjects = append(subjects, s.Kind+"/"+s.Name)
	}
	if !slices.Contains(subjects, "Group/system:authenticated") || !slices.Contains(subjects, "Group/system:unauthenticated") ||
		binding.RoleRef.Name != role.Name {
		t.Errorf("binding %+v", binding)
	}
}

// TestMetricsListener checks the default install's metrics wiring (metrics.enabled is on
// by default): the Deployment serves /metrics on 10251 with the API serving certificate,
// the API Service forwards its port "metrics" there and alone carries the label the
// ServiceMonitor selects, and the ClusterRole selkie-<component>-metrics-reader grants
// exactly get on /metrics and is bound to nobody (metrics.scrapers is empty).
func TestMetricsListener(t *testing.T) {
	for _, c := range components() {
		t.Run(c.dir, func(t *testing.T) {
			name := "selkie-" + c.dir
			var deployment *appsv1.Deployment
			var role *rbacv1.ClusterRole
			services := map[string]*corev1.Service{}
			for _, o := range load(t, c.dir) {
				switch v := o.typed.(type) {
				case *appsv1.Deployment:
					deployment = v
				case *corev1.Service:
					services[v.Name] = v
				case *rbacv1.ClusterRole:
					if v.Name == name+"-metrics-reader" {
						role = v
					}
				case *rbacv1.ClusterRoleBinding:
					if v.RoleRef.Name == name+"-metrics-reader" {
						t.Errorf("ClusterRoleBinding %s binds the metrics reader by default", v.Name)
					}
				}
			}
			if deployment == nil {
				t.Fatal("no Deployment")
			}
			ctr := deployment.Spec.Template.Spec.Containers[0]
			if !slices.Contains(ctr.Args, "--metrics-address=:10251") {
				t.Errorf("Deployment args %v lack --metrics-address=:10251", ctr.Args)
			}
			if !slices.ContainsFunc(ctr.Ports, func(p corev1.ContainerPort) bool {
				return p.Name == "metrics" && p.ContainerPort == 10251 && p.Protocol == corev1.ProtocolTCP
			}) {
				t.Errorf("container ports %+v lack metrics 10251/TCP", ctr.Ports)
			}
			api := services[name+"-api"]
			if api == nil {
				t.Fatalf("no Service %s-api", name)
			}
			if !slices.ContainsFunc(api.Spec.Ports, func(p corev1.ServicePort) bool {
				return p.Name == "metrics" && p.Port == 10251 && p.TargetPort.IntValue() == 10251
			}) {
				t.Errorf("Service %s ports %+v lack metrics 10251 -> 10251", api.Name, api.Spec.Ports)
			}
			if api.Labels["selkie.dev/service"] != "api" {
				t.Errorf("Service %s labels %v lack selkie.dev/service=api", api.Name, api.Labels)
			}
			for _, svc := range services {
				if svc != api && svc.Labels["selkie.dev/service"] != "" {
					t.Errorf("Service %s has the API Service's label selkie.dev/service", svc.Name)
				}
			}
			if role == nil {
				t.Fatalf("no ClusterRole %s-metrics-reader", name)
			}
			want := []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}
			if !reflect.DeepEqual(role.Rules, want) {
				t.Errorf("ClusterRole %s rules %+v, want %+v", role.Name, role.Rules, want)
			}
		})
	}
}
