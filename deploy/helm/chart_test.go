// SPDX-License-Identifier: Apache-2.0

//go:build integration

package helm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

var components = []string{"supervisor", "concierge"}

// tools finds ytt and helm the way make verify does: $SELKIE_YTT_BIN and
// $SELKIE_HELM_BIN, or hack/peer-bins.sh (a cache hit costs nothing; a cold machine
// builds them from the Go module proxy, which .ci/run does before the tests).
var tools = sync.OnceValues(func() (map[string]string, error) {
	bins := map[string]string{"SELKIE_YTT_BIN": os.Getenv("SELKIE_YTT_BIN"), "SELKIE_HELM_BIN": os.Getenv("SELKIE_HELM_BIN")}
	if bins["SELKIE_YTT_BIN"] == "" || bins["SELKIE_HELM_BIN"] == "" {
		cmd := exec.Command(filepath.Join("..", "..", "hack", "peer-bins.sh"), "ytt", "helm")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("hack/peer-bins.sh ytt helm: %v\n%s", err, stderr.String())
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && bins[k] == "" {
				bins[k] = v
			}
		}
	}
	return map[string]string{"ytt": filepath.Join(bins["SELKIE_YTT_BIN"], "ytt"), "helm": filepath.Join(bins["SELKIE_HELM_BIN"], "helm")}, nil
})

func run(t *testing.T, tool string, args ...string) (string, error) {
	t.Helper()
	bins, err := tools()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bins[tool], args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// objects parses a multi-document stream into objects keyed by kind, namespace and name.
func objects(t *testing.T, stream string) map[string]map[string]any {
	t.Helper()
	objs := map[string]map[string]any{}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(stream)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatal(err)
		}
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		if len(obj) == 0 {
			continue
		}
		meta, _ := obj["metadata"].(map[string]any)
		key := fmt.Sprintf("%v %v/%v", obj["kind"], meta["namespace"], meta["name"])
		if _, dup := objs[key]; dup {
			t.Fatalf("%s rendered twice", key)
		}
		objs[key] = obj
	}
}

// values reads a chart values file (empty path: none) and returns each component's
// section without "enabled", as ytt data values, and whether it is enabled.
func values(t *testing.T, path string) map[string]map[string]any {
	t.Helper()
	all := map[string]map[string]any{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, &all); err != nil {
			t.Fatal(err)
		}
	}
	return all
}

// carvel renders the enabled components' Carvel templates with the chart values file's
// sections as data values.
func carvel(t *testing.T, valuesFile string) (string, error) {
	t.Helper()
	all := values(t, valuesFile)
	var out strings.Builder
	for _, c := range components {
		section := map[string]any{}
		for k, v := range all[c] {
			section[k] = v
		}
		if enabled, ok := section["enabled"].(bool); ok && !enabled {
			continue
		}
		delete(section, "enabled")
		data, err := yaml.Marshal(section)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), c+"-values.yaml")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		rendered, err := run(t, "ytt", "-f", filepath.Join("..", "carvel", c, "config"), "--data-values-file", file)
		if err != nil {
			return "", err
		}
		out.WriteString(rendered)
		out.WriteString("\n---\n")
	}
	return out.String(), nil
}

func chart(t *testing.T, valuesFile string, set ...string) (string, error) {
	t.Helper()
	args := []string{"template", "selkie", "selkie"}
	if valuesFile != "" {
		args = append(args, "-f", valuesFile)
	}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return run(t, "helm", args...)
}

func compare(t *testing.T, helmObjs, carvelObjs map[string]map[string]any) {
	t.Helper()
	var keys []string
	for k := range helmObjs {
		keys = append(keys, k)
	}
	for k := range carvelObjs {
		if _, ok := helmObjs[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		h, inHelm := helmObjs[k]
		c, inCarvel := carvelObjs[k]
		switch {
		case !inHelm:
			t.Errorf("%s: rendered by Carvel only", k)
		case !inCarvel:
			t.Errorf("%s: rendered by Helm only", k)
		case !equality.Semantic.DeepEqual(h, c):
			hy, _ := yaml.Marshal(h)
			cy, _ := yaml.Marshal(c)
			t.Errorf("%s differs.\nHelm:\n%s\nCarvel:\n%s", k, hy, cy)
		}
	}
	if len(helmObjs) == 0 {
		t.Error("nothing rendered")
	}
}

// TestChartEqualsCarvelForDefaults is the check: helm template with the chart's
// default values renders exactly the objects of the Carvel templates with theirs, which
// are deploy/manifests (make verify keeps those rendered).
func TestChartEqualsCarvelForDefaults(t *testing.T) {
	h, err := chart(t, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := carvel(t, "")
	if err != nil {
		t.Fatal(err)
	}
	helmObjs := objects(t, h)
	compare(t, helmObjs, objects(t, c))

	var manifests strings.Builder
	for _, f := range []string{"concierge-crds.yaml", "concierge.yaml", "supervisor-crds.yaml", "supervisor.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "manifests", f))
		if err != nil {
			t.Fatal(err)
		}
		manifests.Write(data)
		manifests.WriteString("\n---\n")
	}
	compare(t, helmObjs, objects(t, manifests.String()))
	t.Logf("%d objects, identical in Helm, Carvel and deploy/manifests", len(helmObjs))
}

// TestChartEqualsCarvelForCustomValues renders one values file in which every value
// differs from its default through both, so every key is wired the same way.
func TestChartEqualsCarvelForCustomValues(t *testing.T) {
	file := filepath.Join("testdata", "custom-values.yaml")
	h, err := chart(t, file)
	if err != nil {
		t.Fatal(err)
	}
	c, err := carvel(t, file)
	if err != nil {
		t.Fatal(err)
	}
	helmObjs := objects(t, h)
	compare(t, helmObjs, objects(t, c))
	// Guard against a values file that silently changes nothing.
	if _, ok := helmObjs["ClusterRole <nil>/selkie-concierge-csr-signing"]; !ok {
		t.Error("csr_signing did not add its ClusterRole")
	}
	if _, ok := helmObjs["CustomResourceDefinition <nil>/federationdomains.config.supervisor.pinniped.dev"]; !ok {
		t.Error("api_group_suffix did not move the CRDs")
	}
	checkServiceMonitors(t, helmObjs, map[string]string{"supervisor": "idp-system", "concierge": "kube-login"})
	for c, want := range map[string][]string{
		"supervisor": {"ServiceAccount monitoring/prometheus-k8s", "ServiceAccount observability/1234"},
		"concierge":  {"ServiceAccount monitoring/prometheus-k8s"},
	} {
		binding := helmObjs["ClusterRoleBinding <nil>/selkie-"+c+"-metrics-reader"]
		if binding == nil {
			t.Errorf("metrics.scrapers did not add the ClusterRoleBinding selkie-%s-metrics-reader", c)
			continue
		}
		var got []string
		for _, s := range binding["subjects"].([]any) {
			s := s.(map[string]any)
			got = append(got, fmt.Sprintf("%v %v/%v", s["kind"], s["namespace"], s["name"]))
		}
		if !slices.Equal(got, want) {
			t.Errorf("ClusterRoleBinding selkie-%s-metrics-reader binds %v, want %v", c, got, want)
		}
	}
	if l := helmObjs["ServiceMonitor idp-system/selkie-supervisor"]; l != nil {
		labels := l["metadata"].(map[string]any)["labels"].(map[string]any)
		if labels["app"] != "selkie-supervisor" || labels["release"] != "kube-prometheus" || labels["team"] != "identity" {
			t.Errorf("ServiceMonitor labels %v: want service_monitor.labels added, app kept", labels)
		}
	}
}

// path walks obj through map keys and list indexes, returning nil where there is none.
func path(obj any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, _ := obj.(map[string]any)
			obj = m[k]
		case int:
			l, _ := obj.([]any)
			if k >= len(l) {
				return nil
			}
			obj = l[k]
		}
	}
	return obj
}

// checkServiceMonitors checks each component's ServiceMonitor against the rest of the
// rendering: it selects exactly the API Service among the component's Services (not the
// supervisor's OIDC Service), that Service has the port it scrapes, that port reaches the
// Deployment's metrics listener, and the TLS settings name the API Service and the
// serving certificate Secret the Deployment is given.
func checkServiceMonitors(t *testing.T, objs map[string]map[string]any, namespaces map[string]string) {
	t.Helper()
	for c, ns := range namespaces {
		name := "selkie-" + c
		sm := objs["ServiceMonitor "+ns+"/"+name]
		if sm == nil {
			t.Errorf("no ServiceMonitor %s/%s", ns, name)
			continue
		}
		selector, _ := path(sm, "spec", "selector", "matchLabels").(map[string]any)
		var selected []string
		for k, o := range objs {
			if !strings.HasPrefix(k, "Service "+ns+"/") {
				continue
			}
			labels, _ := path(o, "metadata", "labels").(map[string]any)
			matches := len(selector) > 0
			for lk, lv := range selector {
				if labels[lk] != lv {
					matches = false
				}
			}
			if matches {
				selected = append(selected, k)
			}
		}
		slices.Sort(selected)
		if want := []string{"Service " + ns + "/" + name + "-api"}; !slices.Equal(selected, want) {
			t.Errorf("ServiceMonitor %s selects %v, want %v", name, selected, want)
		}
		endpoints, _ := path(sm, "spec", "endpoints").([]any)
		if len(endpoints) != 1 {
			t.Errorf("ServiceMonitor %s: %d endpoints, want 1", name, len(endpoints))
			continue
		}
		ep := endpoints[0]
		if path(ep, "port") != "metrics" || path(ep, "scheme") != "https" || path(ep, "path") != "/metrics" ||
			path(ep, "bearerTokenFile") != "/var/run/secrets/kubernetes.io/serviceaccount/token" ||
			path(ep, "tlsConfig", "serverName") != name+"-api."+ns+".svc" ||
			path(ep, "tlsConfig", "ca", "secret", "key") != "ca-bundle.crt" {
			t.Errorf("ServiceMonitor %s: unexpected endpoint %v", name, ep)
		}
		var servicePort any
		ports, _ := path(objs["Service "+ns+"/"+name+"-api"], "spec", "ports").([]any)
		for _, p := range ports {
			if path(p, "name") == "metrics" {
				servicePort = path(p, "targetPort")
			}
		}
		container := path(objs["Deployment "+ns+"/"+name], "spec", "template", "spec", "containers", 0)
		var containerPort any
		cports, _ := path(container, "ports").([]any)
		for _, p := range cports {
			if path(p, "name") == "metrics" {
				containerPort = path(p, "containerPort")
			}
		}
		args := map[string]bool{}
		for _, a := range path(container, "args").([]any) {
			args[a.(string)] = true
		}
		secretFlag := "--serving-cert-secret="
		if c == "supervisor" {
			secretFlag = "--api-serving-cert-secret="
		}
		if servicePort == nil || fmt.Sprint(servicePort) != fmt.Sprint(containerPort) || fmt.Sprint(containerPort) != "10251" ||
			!args["--metrics-address=:10251"] || !args[fmt.Sprint(secretFlag, path(ep, "tlsConfig", "ca", "secret", "name"))] {
			t.Errorf("%s: the ServiceMonitor's port (Service targetPort %v, container port %v), the listener flag or the CA Secret (%v) do not match the Deployment",
				name, servicePort, containerPort, path(ep, "tlsConfig", "ca", "secret", "name"))
		}
	}
}

// TestMetricsDisabled renders both components with metrics.enabled false (scrapers
// given, which must then bind nothing): no listener flag, no metrics port on the pods or
// the API Service, no metrics-reader ClusterRole or binding, no ServiceMonitor.
func TestMetricsDisabled(t *testing.T) {
	file := filepath.Join(t.TempDir(), "values.yaml")
	var values strings.Builder
	for _, c := range components {
		fmt.Fprintf(&values, "%s:\n  metrics:\n    enabled: false\n    scrapers: [{namespace: monitoring, name: prometheus}]\n", c)
	}
	if err := os.WriteFile(file, []byte(values.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := chart(t, file)
	if err != nil {
		t.Fatal(err)
	}
	c, err := carvel(t, file)
	if err != nil {
		t.Fatal(err)
	}
	helmObjs := objects(t, h)
	compare(t, helmObjs, objects(t, c))
	for k, o := range helmObjs {
		if strings.Contains(k, "metrics-reader") || strings.HasPrefix(k, "ServiceMonitor ") {
			t.Errorf("%s rendered with metrics.enabled=false", k)
		}
		// Ports and arguments anywhere in the object: Service ports, container ports, args.
		data, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "10251") || strings.Contains(string(data), "--metrics-address") ||
			strings.Contains(string(data), "name: metrics") {
			t.Errorf("%s has a metrics port or flag with metrics.enabled=false:\n%s", k, data)
		}
	}
	// The API Services keep their label, so that turning metrics on changes nothing else.
	for _, c := range components {
		if path(helmObjs["Service selkie-"+c+"/selkie-"+c+"-api"], "metadata", "labels", "selkie.dev/service") != "api" {
			t.Errorf("Service selkie-%s-api lost its selkie.dev/service label", c)
		}
	}
}

func TestChartRendersOneComponent(t *testing.T) {
	for _, c := range components {
		t.Run(c, func(t *testing.T) {
			other := "supervisor"
			if c == other {
				other = "concierge"
			}
			file := filepath.Join(t.TempDir(), "values.yaml")
			if err := os.WriteFile(file, []byte(other+":\n  enabled: false\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			h, err := chart(t, file)
			if err != nil {
				t.Fatal(err)
			}
			carvelOut, err := carvel(t, file)
			if err != nil {
				t.Fatal(err)
			}
			helmObjs := objects(t, h)
			compare(t, helmObjs, objects(t, carvelOut))
			for k := range helmObjs {
				if strings.Contains(k, "selkie-"+other) || strings.Contains(k, "."+other+".") {
					t.Errorf("%s rendered with %s.enabled=false", k, other)
				}
			}
		})
	}
}

// TestBadValuesAreRefusedByBoth checks Helm and ytt refuse the same bad values, each
// naming the key.
func TestBadValuesAreRefusedByBoth(t *testing.T) {
	for _, tc := range []struct{ name, values, key string }{
		{"unknown mode", "concierge:\n  impersonation_proxy:\n    mode: sometimes\n", "mode"},
		{"bad duration", "supervisor:\n  lifetimes:\n    session: forever\n", "session"},
		{"bad ttl", "concierge:\n  certificate_ttl: 5 minutes\n", "certificate_ttl"},
		{"bad namespace", "supervisor:\n  namespace: Not_A_Label\n", "namespace"},
		{"bad suffix", "concierge:\n  api_group_suffix: nodots\n", "api_group_suffix"},
		{"no replicas", "supervisor:\n  replicas: 0\n", "replicas"},
		{"unknown key", "concierge:\n  replica: 3\n", "replica"},
		{"proxy without endpoint", "concierge:\n  impersonation_proxy:\n    service_type: None\n", "external_endpoint"},
		{"pull policy", "supervisor:\n  image_pull_policy: Sometimes\n", "image_pull_policy"},
		{"bad rate limit", "supervisor:\n  rate_limits:\n    requests: 100 per minute\n", "requests"},
		{"bad concierge rate limit", "concierge:\n  rate_limits:\n    login_failures: lots\n", "login_failures"},
		{"bad traffic policy", "supervisor:\n  service:\n    external_traffic_policy: Nearest\n", "external_traffic_policy"},
		{"service monitor without metrics", "concierge:\n  metrics:\n    enabled: false\n    service_monitor:\n      enabled: true\n",
			"metrics.service_monitor.enabled requires metrics.enabled"},
		{"service monitor without metrics (supervisor)", "supervisor:\n  metrics:\n    enabled: false\n    service_monitor:\n      enabled: true\n",
			"metrics.service_monitor.enabled requires metrics.enabled"},
		{"bad scrape interval", "supervisor:\n  metrics:\n    service_monitor:\n      interval: 30 seconds\n", "interval"},
		{"scraper without a name", "concierge:\n  metrics:\n    scrapers: [{namespace: monitoring}]\n", "scrapers[0].name"},
		{"scraper in a bad namespace", "supervisor:\n  metrics:\n    scrapers: [{namespace: Monitoring, name: prometheus}]\n", "scrapers[0].namespace"},
		{"unknown scraper key", "concierge:\n  metrics:\n    scrapers: [{namespace: monitoring, name: prometheus, kind: User}]\n", "kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "values.yaml")
			if err := os.WriteFile(file, []byte(tc.values), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := chart(t, file); err == nil {
				t.Errorf("helm accepted %q", tc.values)
			} else if !strings.Contains(err.Error(), tc.key) {
				t.Errorf("helm's error does not name %s: %v", tc.key, err)
			}
			if _, err := carvel(t, file); err == nil {
				t.Errorf("ytt accepted %q", tc.values)
			} else if !strings.Contains(err.Error(), tc.key) {
				t.Errorf("ytt's error does not name %s: %v", tc.key, err)
			}
		})
	}
}

// TestChartLints runs helm lint --strict (chart metadata, template syntax, the values
// schema) with the default values and with the custom values file.
func TestChartLints(t *testing.T) {
	for _, args := range [][]string{{}, {"-f", filepath.Join("testdata", "custom-values.yaml")}} {
		out, err := run(t, "helm", append([]string{"lint", "--strict", "selkie"}, args...)...)
		if err != nil {
			t.Errorf("helm lint --strict %v: %v\n%s", args, err, out)
		}
	}
}
