// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
	"github.com/selkie-dev/selkie/test/env/demo"
)

// strategyLogins logs in through the in-cluster supervisor and concierge by password
// and in headless Chromium with each issuing strategy: the cluster signing key from the
// mounted Secret (the demo's install), the impersonation proxy, and, after a helm
// upgrade that takes the signing Secret away and turns the CSR strategy on, the CSR
// API, whose use the audit log shows (the concierge creates a CertificateSigningRequest
// per login and deletes it once signed).
func strategyLogins(t *testing.T, ctx context.Context, d *demo.Demo) {
	pinny, _ := d.Env.User("pinny")
	dex, err := url.Parse(d.Env.Dex.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	hosts := []string{net.JoinHostPort(d.Env.SupervisorAddr, "443"), dex.Host}

	logins := func(t *testing.T, mode string) {
		t.Helper()
		dir := t.TempDir()
		for _, flow := range []string{"cli_password", "browser_authcode"} {
			kubeconfig := filepath.Join(dir, flow+".yaml")
			args := []string{"get", "kubeconfig", "--kubeconfig", d.Workload.AdminKubeconfig, "--concierge-mode", mode,
				"--oidc-session-cache", filepath.Join(dir, flow+"-sessions.yaml"), "--credential-cache", filepath.Join(dir, flow+"-credentials.yaml"),
				"--upstream-identity-provider-name", "dex", "--upstream-identity-provider-flow", flow, "-o", kubeconfig, "--timeout", "2m"}
			if flow == "browser_authcode" {
				args = append(args, "--oidc-skip-browser")
			}
			if _, err := d.Selkie(ctx, nil, args...); err != nil {
				t.Fatal(err)
			}
			var out string
			if flow == "cli_password" {
				if out, err = d.Run(ctx, []string{"PINNIPED_USERNAME=" + pinny.Email, "PINNIPED_PASSWORD=" + pinny.Password},
					d.Env.Kubectl, "--kubeconfig", kubeconfig, "get", "namespaces", "-o", "name"); err != nil {
					t.Fatalf("%s login by password: %v", mode, err)
				}
			} else {
				lctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
				out = browserKubectlAt(t, lctx, d.Env.Kubectl, kubeconfig, d.Issuer, pinny.Email, pinny.Password, hosts...)
				cancel()
			}
			if !strings.Contains(out, "namespace/"+demo.ConciergeNamespace) {
				t.Errorf("%s, %s: kubectl printed %q", mode, flow, out)
			}
		}
	}

	t.Run("ClusterSigningKey", func(t *testing.T) {
		waitStrategy(t, ctx, d, configv1alpha1.KubeClusterSigningCertificateStrategyType)
		before := conciergeCSRs(t, d)
		logins(t, "TokenCredentialRequestAPI")
		if after := conciergeCSRs(t, d); after != before {
			t.Errorf("the signing-key logins made %d CertificateSigningRequests, want none", after-before)
		}
	})
	t.Run("ImpersonationProxy", func(t *testing.T) { logins(t, "ImpersonationProxy") })
	t.Run("CSR", func(t *testing.T) {
		values := filepath.Join(d.Dir, "concierge-values.yaml")
		if out, err := helmCommand(t, ctx, d.Dir, d.Workload.AdminKubeconfig, "upgrade", "selkie-concierge", repoPath("deploy", "helm", "selkie"),
			"--values", values, "--set", "concierge.strategies.cluster_signing_secret=", "--set", "concierge.strategies.csr_signing=true",
			"--wait", "--timeout", "3m"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		mustKubectlWith(t, d.Workload.AdminKubeconfig, "-n", demo.ConciergeNamespace, "rollout", "status", "deployment/"+demo.ConciergeNamespace, "--timeout=3m")
		// A rollout is done once the old pods are terminating, but a terminating pod still
		// holds its signing key and may answer a login or two without a CSR: wait for them
		// to be gone.
		kube := kubernetes.NewForConfigOrDie(adminConfig(t, d.Workload.AdminKubeconfig))
		eventually(t, 2*time.Minute, "only the upgraded concierge pods run", func() (bool, error) {
			pods, err := kube.CoreV1().Pods(demo.ConciergeNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + demo.ConciergeNamespace})
			if err != nil {
				return false, err
			}
			var names []string
			terminating := 0
			for _, p := range pods.Items {
				names = append(names, p.Name)
				if p.DeletionTimestamp != nil {
					terminating++
				}
			}
			return terminating == 0, fmt.Errorf("pods %v, %d terminating", names, terminating)
		})
		waitStrategy(t, ctx, d, configv1alpha1.KubeCSRSigningCertificateStrategyType)
		before := conciergeCSRs(t, d)
		logins(t, "TokenCredentialRequestAPI")
		eventually(t, 30*time.Second, "the audit log shows a CertificateSigningRequest per login", func() (bool, error) {
			after := conciergeCSRs(t, d)
			return after >= before+2, fmt.Errorf("%d created by the concierge before the two logins, %d after", before, after)
		})
	})
}

// waitStrategy waits until the CredentialIssuer's first successful strategy with a
// TokenCredentialRequest frontend is typ, the one the CLI picks.
func waitStrategy(t *testing.T, ctx context.Context, d *demo.Demo, typ configv1alpha1.StrategyType) {
	t.Helper()
	ci := conciergeClient(t, &installRun{kubeconfig: d.Workload.AdminKubeconfig})
	eventually(t, 2*time.Minute, fmt.Sprintf("the CredentialIssuer's first working strategy is %s", typ), func() (bool, error) {
		obj, err := ci.ConfigV1alpha1().CredentialIssuers().Get(ctx, credentialIssuerName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, s := range obj.Status.Strategies {
			if s.Status == configv1alpha1.SuccessStrategyStatus && s.Frontend != nil && s.Frontend.Type == configv1alpha1.TokenCredentialRequestAPIFrontendType {
				return s.Type == typ, fmt.Errorf("first working strategy %s", s.Type)
			}
		}
		return false, fmt.Errorf("strategies %+v", obj.Status.Strategies)
	})
}

// conciergeCSRs counts the CertificateSigningRequests the concierge created, from the
// workload cluster's audit log (the concierge deletes each one once it has the
// certificate).
func conciergeCSRs(t *testing.T, d *demo.Demo) int {
	t.Helper()
	reqs, err := readAudit(d.Workload.AuditLog)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range reqs {
		if r.SA == conciergeSA && r.Verb == "create" && r.Resource == "certificatesigningrequests" && r.Code == 201 {
			n++
		}
	}
	return n
}
