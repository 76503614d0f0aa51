// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"text/tabwriter"

	authenticationv1 "k8s.io/api/authentication/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// The ServiceAccounts the manifests create, as the API server names them.
const (
	supervisorSA = "system:serviceaccount:selkie-supervisor:selkie-supervisor"
	conciergeSA  = "system:serviceaccount:selkie-concierge:selkie-concierge"
	proxySA      = "system:serviceaccount:selkie-concierge:selkie-concierge-impersonation-proxy"
)

// permission is one granted permission at the granularity of an RBAC rule, expanded per
// API group, resource, verb and resource name: Namespace is "" for a ClusterRoleBinding
// (cluster-wide), Name is "*" for a rule without resourceNames.
type permission struct {
	SA, Verb, APIGroup, Resource, Namespace, Name string
}

func (p permission) String() string {
	where := "cluster-wide"
	if p.Namespace != "" {
		where = "in " + p.Namespace
	}
	name := ""
	if p.Name != "*" {
		name = " " + p.Name
	}
	return fmt.Sprintf("%s: %s %s%s %s", shortSA(p.SA), p.Verb, groupResource(p.APIGroup, p.Resource), name, where)
}

// grant is a permission with the rule that grants it.
type grant struct {
	permission
	rule string // e.g. "Role selkie-concierge/selkie-concierge rule 3"
}

// request is one authorization the API server made for a ServiceAccount, taken from the
// audit log: a request itself, or one impersonation check of a request sent with
// Impersonate-* headers.
type request struct {
	SA, Verb, APIGroup, Resource, Namespace, Name string
	// Code is the response's HTTP status; Message its status message if any.
	Code    int
	Message string
	// Impersonated is the impersonated user of a request the proxy forwarded.
	Impersonated *authenticationv1.UserInfo
	// NonResource is the path of a request for a non-resource URL (discovery, /version).
	NonResource string
	// InitialEvents marks a watch that streams the initial state (WatchList,
	// sendInitialEvents=true), which informers send instead of a list.
	InitialEvents bool
}

// readAudit reads the audit log's events of the three ServiceAccounts, one per request
// (the last stage seen of each audit ID: ResponseComplete, or ResponseStarted of a
// watch that was still open).
func readAudit(path string) ([]request, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// The API server may be appending while we read: a last line without its newline is
	// an event still being written, not a broken log.
	data = data[:bytes.LastIndexByte(data, '\n')+1]
	byID := map[string]auditv1.Event{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev auditv1.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		switch ev.User.Username {
		case supervisorSA, conciergeSA, proxySA:
		default:
			continue
		}
		id := string(ev.AuditID)
		if _, seen := byID[id]; !seen {
			order = append(order, id)
		}
		byID[id] = ev
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	reqs := make([]request, 0, len(order))
	for _, id := range order {
		ev := byID[id]
		r := request{SA: ev.User.Username, Verb: ev.Verb, Impersonated: ev.ImpersonatedUser,
			InitialEvents: ev.Verb == "watch" && strings.Contains(ev.RequestURI, "sendInitialEvents=true")}
		if ev.ResponseStatus != nil {
			r.Code, r.Message = int(ev.ResponseStatus.Code), ev.ResponseStatus.Message
		}
		if ref := ev.ObjectRef; ref != nil {
			r.APIGroup, r.Resource, r.Namespace, r.Name = ref.APIGroup, ref.Resource, ref.Namespace, ref.Name
			if ref.Subresource != "" {
				r.Resource += "/" + ref.Subresource
			}
		} else {
			r.NonResource, _, _ = strings.Cut(ev.RequestURI, "?")
		}
		reqs = append(reqs, r)
	}
	return reqs, nil
}

// impersonationChecks are the authorizations the API server made for a request the proxy
// sent with Impersonate-* headers. They do not appear as audit events of their own: a
// forwarded request is audited once, with user = the proxy's ServiceAccount and
// impersonatedUser = whom it acted as, and reaching the handler (any code but a 403
// naming impersonation) means every impersonation check passed. Kubernetes checks
// impersonate on users/<name> (or serviceaccounts/<name> in the account's namespace for
// a system:serviceaccount: name), groups/<group> for each group, and
// userextras/<key> (authentication.k8s.io) for each extra key with each value as the
// name; uids/<uid> only for Impersonate-Uid, which the proxy never sends.
func impersonationChecks(r request) []request {
	u := r.Impersonated
	if u == nil || r.Code == 403 && strings.Contains(r.Message, "impersonate") {
		return nil
	}
	check := func(group, resource, ns, name string) request {
		return request{SA: r.SA, Verb: "impersonate", APIGroup: group, Resource: resource, Namespace: ns, Name: name, Code: r.Code}
	}
	var out []request
	if rest, ok := strings.CutPrefix(u.Username, "system:serviceaccount:"); ok {
		ns, name, _ := strings.Cut(rest, ":")
		out = append(out, check("", "serviceaccounts", ns, name))
	} else {
		out = append(out, check("", "users", "", u.Username))
	}
	for _, g := range u.Groups {
		out = append(out, check("", "groups", "", g))
	}
	for k, values := range u.Extra {
		for _, v := range values {
			out = append(out, check("authentication.k8s.io", "userextras/"+k, "", v))
		}
	}
	if u.UID != "" {
		out = append(out, check("authentication.k8s.io", "uids", "", u.UID))
	}
	return out
}

// manifestGrants reads what deploy/manifests/<component>.yaml grants each of our
// ServiceAccounts: its Roles and ClusterRoles and the built-in roles it binds to
// (system:auth-delegator, extension-apiserver-authentication-reader), read from the live
// cluster. Only bindings naming a ServiceAccount count; the login ClusterRole bound to
// system:authenticated is for users and is exercised by their logins.
func manifestGrants(t *testing.T, ctx context.Context, kube kubernetes.Interface, component string) []grant {
	t.Helper()
	data, err := os.ReadFile(testEnvRepoFile(t, filepath.Join("deploy", "manifests", component+".yaml")))
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string][]rbacv1.PolicyRule{} // "ClusterRole name" or "Role ns/name"
	type binding struct {
		ns, role string
		subjects []rbacv1.Subject
	}
	var bindings []binding
	for _, doc := range strings.Split("\n"+string(data), "\n---\n") {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		switch meta.Kind {
		case "ClusterRole":
			var r rbacv1.ClusterRole
			mustUnmarshal(t, doc, &r)
			roles["ClusterRole "+r.Name] = r.Rules
		case "Role":
			var r rbacv1.Role
			mustUnmarshal(t, doc, &r)
			roles["Role "+r.Namespace+"/"+r.Name] = r.Rules
		case "ClusterRoleBinding":
			var b rbacv1.ClusterRoleBinding
			mustUnmarshal(t, doc, &b)
			bindings = append(bindings, binding{role: "ClusterRole " + b.RoleRef.Name, subjects: b.Subjects})
		case "RoleBinding":
			var b rbacv1.RoleBinding
			mustUnmarshal(t, doc, &b)
			role := "ClusterRole " + b.RoleRef.Name
			if b.RoleRef.Kind == "Role" {
				role = "Role " + b.Namespace + "/" + b.RoleRef.Name
			}
			bindings = append(bindings, binding{ns: b.Namespace, role: role, subjects: b.Subjects})
		}
	}
	var grants []grant
	for _, b := range bindings {
		rules, ok := roles[b.role]
		if !ok {
			rules = liveRules(t, ctx, kube, b.role)
		}
		for _, s := range b.subjects {
			if s.Kind != rbacv1.ServiceAccountKind {
				continue
			}
			sa := "system:serviceaccount:" + s.Namespace + ":" + s.Name
			for i, rule := range rules {
				label := fmt.Sprintf("%s rule %d", b.role, i+1)
				if _, fromManifest := roles[b.role]; !fromManifest {
					label += " (built-in)"
				}
				grants = append(grants, expand(sa, b.ns, label, rule)...)
			}
		}
	}
	return grants
}

func mustUnmarshal(t *testing.T, doc string, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
		t.Fatal(err)
	}
}

// liveRules reads a built-in role ("ClusterRole name" or "Role ns/name") from the cluster.
func liveRules(t *testing.T, ctx context.Context, kube kubernetes.Interface, role string) []rbacv1.PolicyRule {
	t.Helper()
	kind, ref, _ := strings.Cut(role, " ")
	if kind == "ClusterRole" {
		r, err := kube.RbacV1().ClusterRoles().Get(ctx, ref, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		return r.Rules
	}
	ns, name, _ := strings.Cut(ref, "/")
	r, err := kube.RbacV1().Roles(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("%s: %v", role, err)
	}
	return r.Rules
}

// expand turns one rule into its permissions, one per group, resource, verb and name.
func expand(sa, ns, label string, rule rbacv1.PolicyRule) []grant {
	names := rule.ResourceNames
	if len(names) == 0 {
		names = []string{"*"}
	}
	var out []grant
	for _, g := range rule.APIGroups {
		for _, res := range rule.Resources {
			for _, v := range rule.Verbs {
				for _, n := range names {
					out = append(out, grant{permission{SA: sa, Verb: v, APIGroup: g, Resource: res, Namespace: ns, Name: n}, label})
				}
			}
		}
	}
	return out
}

// covers says whether the permission allows the request, as RBAC decides it.
func (p permission) covers(r request) bool {
	if r.NonResource != "" || p.SA != r.SA {
		return false
	}
	if p.Namespace != "" && p.Namespace != r.Namespace {
		return false
	}
	if p.Verb != "*" && p.Verb != r.Verb {
		return false
	}
	if p.APIGroup != "*" && p.APIGroup != r.APIGroup {
		return false
	}
	name := r.Name
	if r.Verb == "create" && !strings.Contains(r.Resource, "/") {
		name = "" // RBAC authorizes a create before the object has a name; the audit log fills it in
	}
	if p.Name != "*" && p.Name != name {
		return false
	}
	switch {
	case p.Resource == "*" || p.Resource == r.Resource:
		return true
	case strings.HasPrefix(p.Resource, "*/"):
		_, sub, ok := strings.Cut(r.Resource, "/")
		return ok && "*/"+sub == p.Resource
	}
	return false
}

// usageRow is one line of the usage table.
type usageRow struct {
	sa, verb, resource, namespace string
	count                         int
	grantedBy                     []string
}

// usageTable groups the allowed requests by ServiceAccount, verb, resource and namespace,
// with the rules that grant them.
func usageTable(reqs []request, grants []grant) []*usageRow {
	rows := map[string]*usageRow{}
	for _, r := range reqs {
		res := groupResource(r.APIGroup, r.Resource)
		if r.NonResource != "" {
			res = r.NonResource
		}
		key := strings.Join([]string{r.SA, r.Verb, res, r.Namespace}, "|")
		row, ok := rows[key]
		if !ok {
			row = &usageRow{sa: r.SA, verb: r.Verb, resource: res, namespace: r.Namespace}
			rows[key] = row
		}
		row.count++
		if r.Impersonated != nil {
			// A forwarded request is authorized as the impersonated user; the proxy's
			// own permissions are the impersonate rows.
			by := "authorized as the impersonated user"
			if !slices.Contains(row.grantedBy, by) {
				row.grantedBy = append(row.grantedBy, by)
			}
			continue
		}
		for _, g := range grants {
			if g.covers(r) && !slices.Contains(row.grantedBy, g.rule) {
				row.grantedBy = append(row.grantedBy, g.rule)
			}
		}
	}
	out := make([]*usageRow, 0, len(rows))
	for _, row := range rows {
		sort.Strings(row.grantedBy)
		out = append(out, row)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.sa != b.sa {
			return a.sa < b.sa
		}
		if a.resource != b.resource {
			return a.resource < b.resource
		}
		if a.verb != b.verb {
			return a.verb < b.verb
		}
		return a.namespace < b.namespace
	})
	return out
}

func formatUsage(rows []*usageRow) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SERVICE ACCOUNT\tVERB\tRESOURCE\tNAMESPACE\tCOUNT\tGRANTED BY")
	for _, r := range rows {
		by := strings.Join(r.grantedBy, "; ")
		if by == "" {
			by = "not the manifests (default roles of every authenticated user)"
		}
		ns := r.namespace
		if ns == "" {
			ns = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\n", shortSA(r.sa), r.verb, r.resource, ns, r.count, by)
	}
	_ = w.Flush()
	return b.String()
}

func shortSA(sa string) string {
	parts := strings.Split(sa, ":")
	return parts[len(parts)-1]
}

func groupResource(group, resource string) string {
	if group == "" {
		return resource
	}
	res, sub, ok := strings.Cut(resource, "/")
	if ok {
		return res + "." + group + "/" + sub
	}
	return resource + "." + group
}

// TestReadAuditIgnoresAPartialLastLine: the tests read audit logs while the API server
// appends to them, so the last line may be half written.
func TestReadAuditIgnoresAPartialLastLine(t *testing.T) {
	t.Parallel()
	ev := auditv1.Event{AuditID: "a1", Stage: auditv1.StageResponseComplete, Verb: "get", RequestURI: "/version",
		User: authenticationv1.UserInfo{Username: supervisorSA}, ResponseStatus: &metav1.Status{Code: 200}}
	line, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(path, append(append(line, '\n'), line[:len(line)/2]...), 0o600); err != nil {
		t.Fatal(err)
	}
	reqs, err := readAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || reqs[0].NonResource != "/version" || reqs[0].Code != 200 {
		t.Errorf("readAudit = %+v, want the one complete event", reqs)
	}
}
