// SPDX-License-Identifier: Apache-2.0

package demo

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"
)

// install applies one component's manifests in file order: everything but the
// Deployment and the APIServices first (waiting for the CRDs), or with apiServices set
// only the APIServices, pointing at port, then waits until they are Available.
func (d *Demo) install(ctx context.Context, kubeconfig, component string, port int, apiServices bool) error {
	files := []string{
		filepath.Join(d.Repo, "deploy", "manifests", component+"-crds.yaml"),
		filepath.Join(d.Repo, "deploy", "manifests", component+".yaml"),
	}
	var apiServiceNames []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var docs []string
		for _, doc := range strings.Split("\n"+string(data), "\n---\n") {
			obj := map[string]any{}
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			kind, _ := obj["kind"].(string)
			switch {
			case kind == "" || kind == "Deployment":
				continue // the servers run on loopback
			case (kind == "APIService") != apiServices:
				continue
			case kind == "Service":
				// The aggregator reaches an ExternalName Service at externalName:port.
				obj["spec"] = map[string]any{"type": "ExternalName", "externalName": "localhost"}
			case kind == "APIService":
				spec := obj["spec"].(map[string]any)
				spec["service"].(map[string]any)["port"] = port
				apiServiceNames = append(apiServiceNames, "apiservice/"+obj["metadata"].(map[string]any)["name"].(string))
			}
			out, err := yaml.Marshal(obj)
			if err != nil {
				return err
			}
			docs = append(docs, string(out))
		}
		if len(docs) == 0 {
			continue
		}
		name := filepath.Base(f)
		d.Printf("    kubectl apply -f deploy/manifests/%s (%d objects)\n", filepath.Base(f), len(docs))
		if err := d.Apply(ctx, kubeconfig, name, strings.Join(docs, "---\n")); err != nil {
			return err
		}
		if strings.Contains(f, "crds") {
			if _, err := d.Kubectl(ctx, kubeconfig, "wait", "--for=condition=Established", "--timeout=60s", "-f", filepath.Join(d.Dir, name)); err != nil {
				return err
			}
		}
	}
	for _, a := range apiServiceNames {
		if err := d.KubectlWait(ctx, kubeconfig, "", a, "condition=Available"); err != nil {
			return err
		}
	}
	return nil
}

// serviceAccountKubeconfig writes a kubeconfig for the ServiceAccount: the admin
// kubeconfig's cluster (server and CA) with a TokenRequest bearer token.
func (d *Demo) serviceAccountKubeconfig(ctx context.Context, adminKubeconfig, ns, name string) (string, error) {
	admin, err := clientcmd.LoadFromFile(adminKubeconfig)
	if err != nil {
		return "", err
	}
	restConfig, err := clientcmd.NewDefaultClientConfig(*admin, nil).ClientConfig()
	if err != nil {
		return "", err
	}
	kube, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return "", err
	}
	expiry := int64((24 * time.Hour).Seconds())
	tr, err := kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("TokenRequest for %s/%s: %w", ns, name, err)
	}
	cluster := admin.Clusters[admin.Contexts[admin.CurrentContext].Cluster]
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["cluster"] = cluster
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: name, Namespace: ns}
	cfg.CurrentContext = name
	path := filepath.Join(d.Dir, name+".kubeconfig")
	return path, clientcmd.WriteToFile(*cfg, path)
}

func (d *Demo) supervisorObjects() (string, error) {
	return d.supervisorObjectsFor(d.Env.LDAP.LDAPSAddr)
}

// supervisorObjectsFor is supervisorObjects with the LDAPS address the supervisor dials.
func (d *Demo) supervisorObjectsFor(ldapsAddr string) (string, error) {
	e := d.Env
	caPEM, err := os.ReadFile(e.CABundle)
	if err != nil {
		return "", err
	}
	ca := base64.StdEncoding.EncodeToString(caPEM)
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: dex-client, namespace: %[1]s}
type: secrets.selkie.dev/oidc-client
stringData: {clientID: %[2]q, clientSecret: %[3]q}
---
apiVersion: idp.supervisor.selkie.dev/v1alpha1
kind: OIDCIdentityProvider
metadata: {name: dex, namespace: %[1]s}
spec:
  issuer: %[4]q
  tls: {certificateAuthorityData: %[5]q}
  authorizationConfig:
    allowPasswordGrant: true
    additionalScopes: [openid, offline_access, email, profile, groups]
    additionalAuthorizeParameters: [{name: connector_id, value: local}]
  claims: {username: email, groups: groups}
  client: {secretName: dex-client}
---
apiVersion: v1
kind: Secret
metadata: {name: ldap-bind, namespace: %[1]s}
type: kubernetes.io/basic-auth
stringData: {username: %[6]q, password: %[7]q}
---
apiVersion: idp.supervisor.selkie.dev/v1alpha1
kind: LDAPIdentityProvider
metadata: {name: ldap, namespace: %[1]s}
spec:
  host: %[8]q
  tls: {certificateAuthorityData: %[5]q}
  bind: {secretName: ldap-bind}
  userSearch:
    base: %[9]q
    filter: "uid={}"
    attributes: {username: uid, uid: uidNumber}
  groupSearch:
    base: %[10]q
    attributes: {groupName: cn}
---
apiVersion: config.supervisor.selkie.dev/v1alpha1
kind: FederationDomain
metadata: {name: demo, namespace: %[1]s}
spec:
  issuer: %[11]q
  identityProviders:
  - displayName: dex
    objectRef: {apiGroup: idp.supervisor.selkie.dev, kind: OIDCIdentityProvider, name: dex}
  - displayName: ldap
    objectRef: {apiGroup: idp.supervisor.selkie.dev, kind: LDAPIdentityProvider, name: ldap}
`, SupervisorNamespace, e.Info.Dex.ClientID, e.Info.Dex.ClientSecret, e.Info.Dex.Issuer, ca, e.Info.LDAP.BindDN, e.Info.LDAP.BindPassword,
		ldapsAddr, e.Info.LDAP.UsersDN, e.Info.LDAP.GroupsDN, d.Issuer), nil
}

func workloadObjects(issuer string, supervisorCA []byte) string {
	return fmt.Sprintf(`apiVersion: authentication.concierge.selkie.dev/v1alpha1
kind: JWTAuthenticator
metadata: {name: demo}
spec:
  issuer: %[1]q
  audience: %[2]s
  claims: {username: username, groups: groups}
  tls: {certificateAuthorityData: %[3]q}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: demo-namespace-reader}
rules:
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: demo-namespace-reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: demo-namespace-reader}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: %[4]q}
`, issuer, Audience, base64.StdEncoding.EncodeToString(supervisorCA), Group)
}

// createJWTAuthenticator makes the workload cluster trust the FederationDomain for the
// audience Audience and lets Group list namespaces.
func (d *Demo) createJWTAuthenticator(ctx context.Context) error {
	workload := d.Workload
	d.Say("Create JWTAuthenticator trusting %s (audience %s) and let group %q (Dex and LDAP) list namespaces on %s", d.Issuer, Audience, Group, workload.Name)
	supCA, err := os.ReadFile(d.SupervisorCAFile)
	if err != nil {
		return err
	}
	if err := d.Apply(ctx, workload.AdminKubeconfig, "workload.yaml", workloadObjects(d.Issuer, supCA)); err != nil {
		return err
	}
	return d.KubectlWait(ctx, workload.AdminKubeconfig, "", "jwtauthenticator/demo", "jsonpath={.status.phase}=Ready")
}
