// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/client-go/kubernetes"

	conciergeclient "github.com/selkie-dev/selkie/generated/client/concierge/clientset/versioned"
	"github.com/selkie-dev/selkie/test/env/demo"
)

// credentialIssuerName is the chart's CredentialIssuer (--credential-issuer default).
const credentialIssuerName = "selkie-concierge-config"

// leaderElection: of the two concierge pods only the Lease holder writes the
// CredentialIssuer, and once its pod is deleted the other takes the Lease and writes
// it. "Who wrote" is the source address of the create request in the workload cluster's
// audit log, compared with the pods' addresses.
func leaderElection(t *testing.T, ctx context.Context, d *demo.Demo) {
	client := kubernetes.NewForConfigOrDie(adminConfig(t, d.Workload.AdminKubeconfig))
	concierge := conciergeclient.NewForConfigOrDie(adminConfig(t, d.Workload.AdminKubeconfig))
	podIPs := func() map[string]string {
		pods, err := client.CoreV1().Pods(demo.ConciergeNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + demo.ConciergeNamespace})
		if err != nil {
			t.Fatal(err)
		}
		ips := map[string]string{}
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil && p.Status.PodIP != "" {
				ips[p.Name] = p.Status.PodIP
			}
		}
		return ips
	}
	holder := func() string {
		lease, err := client.CoordinationV1().Leases(demo.ConciergeNamespace).Get(ctx, demo.ConciergeNamespace, metav1.GetOptions{})
		if err != nil || lease.Spec.HolderIdentity == nil {
			return ""
		}
		pod, _, _ := strings.Cut(*lease.Spec.HolderIdentity, "_") // <hostname>_<uuid>; the hostname is the pod's name
		return pod
	}
	// recreate deletes the CredentialIssuer, waits for the leader to create it again,
	// and returns the address the create came from.
	recreate := func() string {
		t.Helper()
		old, err := concierge.ConfigV1alpha1().CredentialIssuers().Get(ctx, credentialIssuerName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := concierge.ConfigV1alpha1().CredentialIssuers().Delete(ctx, credentialIssuerName, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 90*time.Second, "CredentialIssuer created again", func() (bool, error) {
			ci, err := concierge.ConfigV1alpha1().CredentialIssuers().Get(ctx, credentialIssuerName, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, err
			}
			return err == nil && ci.UID != old.UID, err
		})
		var ip string
		eventually(t, 10*time.Second, "the create in the audit log", func() (bool, error) {
			var err error
			ip, err = lastCredentialIssuerCreate(d.Workload.AuditLog)
			return ip != "", err
		})
		return ip
	}

	pods := podIPs()
	if len(pods) != 2 {
		t.Fatalf("want 2 concierge pods, have %v", pods)
	}
	first := holder()
	if _, ok := pods[first]; !ok {
		t.Fatalf("the Lease holder %q is none of the pods %v", first, pods)
	}
	if ip := recreate(); ip != pods[first] {
		t.Errorf("the CredentialIssuer was created from %s; the leader %s is %s (pods %v)", ip, first, pods[first], pods)
	}

	if err := client.CoreV1().Pods(demo.ConciergeNamespace).Delete(ctx, first, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var second string
	eventually(t, 90*time.Second, "another pod holds the Lease", func() (bool, error) {
		second = holder()
		_, alive := podIPs()[second]
		return second != "" && second != first && alive, fmt.Errorf("holder %q", second)
	})
	pods = podIPs()
	if ip := recreate(); ip != pods[second] {
		t.Errorf("after the leader's pod was deleted the CredentialIssuer was created from %s; the new leader %s is %s (pods %v)", ip, second, pods[second], pods)
	}
	t.Logf("leader %s, then %s after its pod was deleted", first, second)
}

// lastCredentialIssuerCreate returns the source address of the last successful create
// of a CredentialIssuer in an audit log.
func lastCredentialIssuerCreate(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	ip := ""
	for sc.Scan() {
		var ev auditv1.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return "", err
		}
		if ev.Verb == "create" && ev.ObjectRef != nil && ev.ObjectRef.Resource == "credentialissuers" &&
			ev.Stage == auditv1.StageResponseComplete && ev.ResponseStatus != nil && ev.ResponseStatus.Code == 201 && len(ev.SourceIPs) > 0 {
			ip = ev.SourceIPs[0]
		}
	}
	return ip, sc.Err()
}
