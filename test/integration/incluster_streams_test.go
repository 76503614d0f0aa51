// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/selkie-dev/selkie/test/env"
	"github.com/selkie-dev/selkie/test/env/demo"
)

// proxyUser runs kubectl through the impersonation proxy as pinny (kubeconfig from
// `selkie get kubeconfig --concierge-mode ImpersonationProxy`), with extra environment
// variables (the protocol switches) and stdin.
type proxyUser struct {
	kubectl, kubeconfig string
	env                 []string
}

func (u proxyUser) cmd(ctx context.Context, extraEnv []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, u.kubectl, append([]string{"--kubeconfig", u.kubeconfig}, args...)...)
	cmd.Env = append(append(os.Environ(), u.env...), extraEnv...)
	return cmd
}

func (u proxyUser) run(ctx context.Context, extraEnv []string, stdin string, args ...string) (string, string, error) {
	cmd := u.cmd(ctx, extraEnv, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// until starts kubectl, feeds it stdin, and reads its output until match matches a line
// (returning the submatches) or the timeout passes; then it ends kubectl.
func (u proxyUser) until(ctx context.Context, extraEnv []string, stdin string, match *regexp.Regexp, args ...string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := u.cmd(ctx, extraEnv, args...)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if stdin != "" {
		go func() { _, _ = io.WriteString(in, stdin) }() // kept open: attach ends on EOF
	}
	sc := bufio.NewScanner(out)
	var seen []string
	for sc.Scan() {
		seen = append(seen, sc.Text())
		if m := match.FindStringSubmatch(sc.Text()); m != nil {
			return m, nil
		}
	}
	return nil, fmt.Errorf("kubectl %s: no line matched %s; output %q; stderr %s", strings.Join(args, " "), match, seen, errOut.String())
}

// streamsNamespace creates a restricted namespace in the workload cluster where group
// demo.Group may use pods and their subresources, and runs the toolbox pod in it: a
// container printing a line a second (logs -f), one reading stdin (attach), and the
// network probe serving HTTP (port-forward). It returns the namespace.
func streamsNamespace(t *testing.T, ctx context.Context, client kubernetes.Interface) string {
	t.Helper()
	ns := restrictedNamespace(t, client, "streams-")
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pod-user"}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{""}, Verbs: []string{"get", "list", "watch", "create", "delete"},
		Resources: []string{"pods", "pods/exec", "pods/attach", "pods/portforward", "pods/log"},
	}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "pod-user"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "pod-user"},
		Subjects: []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "Group", Name: demo.Group}}}
	if _, err := client.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	container := func(name, image string, command ...string) corev1.Container {
		return corev1.Container{Name: name, Image: image, ImagePullPolicy: corev1.PullNever, Command: command, SecurityContext: restricted(),
			VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}}
	}
	attach := container("attach", env.ToolboxImageName, "sh", "-c", "while read l; do echo got $l; done")
	attach.Stdin = true
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "toolbox"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{
			container("shell", env.ToolboxImageName, "sh", "-c", "i=0; while true; do echo line $i; i=$((i+1)); sleep 1; done"),
			attach,
			container("web", env.NetcheckImageName, "/netcheck", "serve", "-listen", ":8080"),
		},
		Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
	}}
	if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "toolbox pod's three containers running", func() (bool, error) {
		p, err := client.CoreV1().Pods(ns).Get(ctx, "toolbox", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		running := 0
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Running != nil {
				running++
			}
		}
		return running == 3, fmt.Errorf("phase %s, %d of 3 containers running: %+v", p.Status.Phase, running, p.Status.ContainerStatuses)
	})
	return ns
}

// proxyStreams: exec (with and without stdin), attach, logs -f, port-forward and cp
// through the impersonation proxy against a real pod, over WebSocket (kubectl's
// default) and SPDY; and an exec RBAC denies is Forbidden.
func proxyStreams(t *testing.T, ctx context.Context, d *demo.Demo, u proxyUser) {
	client := kubernetes.NewForConfigOrDie(adminConfig(t, d.Workload.AdminKubeconfig))
	ns := streamsNamespace(t, ctx, client)
	for _, proto := range []struct {
		name string
		env  []string
	}{
		{"WebSocket", nil},
		{"SPDY", []string{"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false", "KUBECTL_PORT_FORWARD_WEBSOCKETS=false"}},
	} {
		t.Run(proto.name, func(t *testing.T) {
			e := proto.env
			if out, errOut, err := u.run(ctx, e, "", "-n", ns, "exec", "toolbox", "-c", "shell", "--", "echo", "hello"); err != nil || out != "hello\n" {
				t.Errorf("exec: %q, %v\n%s", out, err, errOut)
			}
			if out, errOut, err := u.run(ctx, e, "ping\n", "-n", ns, "exec", "-i", "toolbox", "-c", "shell", "--", "cat"); err != nil || out != "ping\n" {
				t.Errorf("exec -i: %q, %v\n%s", out, err, errOut)
			}
			if _, err := u.until(ctx, e, "hi-"+proto.name+"\n", regexp.MustCompile("^got hi-"+proto.name+"$"), "-n", ns, "attach", "-i", "toolbox", "-c", "attach"); err != nil {
				t.Errorf("attach -i: %v", err)
			}
			portForwardGet(t, ctx, u, e, ns)
			local := filepath.Join(t.TempDir(), "payload")
			payload := "copied through the proxy over " + proto.name + "\n"
			if err := os.WriteFile(local, []byte(payload), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, errOut, err := u.run(ctx, e, "", "-n", ns, "cp", "-c", "shell", local, "toolbox:/tmp/payload"); err != nil {
				t.Errorf("cp to the pod: %v\n%s", err, errOut)
			}
			back := filepath.Join(t.TempDir(), "back")
			if _, errOut, err := u.run(ctx, e, "", "-n", ns, "cp", "-c", "shell", "toolbox:/tmp/payload", back); err != nil {
				t.Errorf("cp from the pod: %v\n%s", err, errOut)
			} else if got, _ := os.ReadFile(back); string(got) != payload {
				t.Errorf("cp round trip: got %q, want %q", got, payload)
			}
		})
	}
	if _, err := u.until(ctx, nil, "", regexp.MustCompile(`^line [0-9]+$`), "-n", ns, "logs", "-f", "toolbox", "-c", "shell"); err != nil {
		t.Errorf("logs -f: %v", err)
	}

	// The same user may not exec into pods of a namespace where nothing grants it.
	denied := restrictedNamespace(t, client, "streams-denied-")
	out, errOut, err := u.run(ctx, nil, "", "-n", denied, "exec", "anything", "--", "echo", "x")
	if err == nil || !strings.Contains(errOut, "Forbidden") && !strings.Contains(errOut, "forbidden") {
		t.Errorf("exec without RBAC: got %q, %v, stderr %q; want Forbidden", out, err, errOut)
	}
}

// portForwardGet runs kubectl port-forward to the probe's port and fetches its answer
// through the forwarded local port.
func portForwardGet(t *testing.T, ctx context.Context, u proxyUser, e []string, ns string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := u.cmd(ctx, e, "-n", ns, "port-forward", "pod/toolbox", "0:8080")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	re := regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) -> 8080$`)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		m := re.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://127.0.0.1:" + m[1] + "/")
		if err != nil {
			t.Errorf("GET through port-forward: %v", err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(string(body), "pod=toolbox ") {
			t.Errorf("GET through port-forward: %s %q", resp.Status, body)
		}
		return
	}
	t.Errorf("port-forward printed no Forwarding line")
}
