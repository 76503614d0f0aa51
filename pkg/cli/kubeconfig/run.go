// SPDX-License-Identifier: Apache-2.0

package kubeconfig

import (
	"context"
	"errors"
	"fmt"
	"os"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// source is what the command takes from the source kubeconfig: names, the cluster and
// the admin client configuration used for discovery only.
type source struct {
	contextName, clusterName, userName string
	server                             string
	caPEM                              []byte
	tlsServerName, proxyURL            string
	rest                               *rest.Config
}

func run(ctx context.Context, deps Deps, f *flagpole) error {
	if err := f.validate(); err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	log := deps.logger()
	src, err := loadSource(f.kubeconfig, f.kubeconfigContext)
	if err != nil {
		return err
	}
	if err := f.readCABundles(); err != nil {
		return err
	}
	g := &generator{deps: deps, log: log, f: f, src: src}
	cfg, err := g.generate(ctx)
	if err != nil {
		return err
	}
	if !f.skipValidation {
		cluster := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster]
		if err := validateCluster(ctx, deps, log, cluster.Server, cluster.CertificateAuthorityData); err != nil {
			return err
		}
	}
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("could not encode the kubeconfig: %w", err)
	}
	if f.output == "" {
		_, err = deps.Stdout.Write(out)
		return err
	}
	// 0600 like any kubeconfig: it may hold an explicit --static-token.
	if err := os.WriteFile(f.output, out, 0o600); err != nil {
		return fmt.Errorf("could not write --output: %w", err)
	}
	return nil
}

// loadSource reads the source kubeconfig's context, cluster (with its CA file inlined)
// and admin client configuration.
func loadSource(path, contextName string) (*source, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: contextName})
	raw, err := loader.RawConfig()
	if err != nil {
		return nil, fmt.Errorf("could not load --kubeconfig: %w", err)
	}
	if contextName == "" {
		contextName = raw.CurrentContext
	}
	kctx := raw.Contexts[contextName]
	if kctx == nil {
		return nil, fmt.Errorf("could not load --kubeconfig/--kubeconfig-context: no context %q", contextName)
	}
	cluster := raw.Clusters[kctx.Cluster]
	if cluster == nil {
		return nil, fmt.Errorf("could not load --kubeconfig/--kubeconfig-context: context %q names no known cluster (%q)", contextName, kctx.Cluster)
	}
	src := &source{contextName: contextName, clusterName: kctx.Cluster, userName: kctx.AuthInfo, server: cluster.Server,
		caPEM: cluster.CertificateAuthorityData, tlsServerName: cluster.TLSServerName, proxyURL: cluster.ProxyURL}
	if len(src.caPEM) == 0 && cluster.CertificateAuthority != "" {
		if src.caPEM, err = os.ReadFile(cluster.CertificateAuthority); err != nil {
			return nil, fmt.Errorf("could not read the certificate authority of cluster %q: %w", kctx.Cluster, err)
		}
	}
	if src.rest, err = loader.ClientConfig(); err != nil {
		return nil, fmt.Errorf("could not load --kubeconfig: %w", err)
	}
	return src, nil
}

// readCABundles reads --oidc-ca-bundle files (PEM, concatenated).
func (f *flagpole) readCABundles() error {
	var err error
	f.oidc.caBundleData, err = readPEMFiles("--oidc-ca-bundle", f.oidc.caBundles)
	return err
}

func readPEMFiles(flag string, paths []string) ([]byte, error) {
	var out []byte
	for _, p := range paths {
		b, err := os.ReadFile(p) //nolint:gosec // G304: a CA bundle path the user gave.
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		if countCerts(b) == 0 {
			return nil, fmt.Errorf("%s: %s holds no PEM certificate", flag, p)
		}
		out = append(out, b...)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
	}
	return out, nil
}

// newKubeconfig is the output: one cluster, user and context named after the source
// ones plus the suffix. Only the server, its CA and the exec plugin are written.
func newKubeconfig(src *source, nameSuffix, server string, caPEM []byte, exec *clientcmdapi.ExecConfig) (*clientcmdapi.Config, error) {
	if src.clusterName == "" || src.contextName == "" {
		return nil, errors.New("the source kubeconfig context has no name or cluster")
	}
	userName := src.userName
	if userName == "" {
		userName = src.contextName
	}
	cluster := &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	if server == src.server { // the same endpoint: keep how the source reaches it
		cluster.TLSServerName, cluster.ProxyURL = src.tlsServerName, src.proxyURL
	}
	clusterName, user, contextName := src.clusterName+nameSuffix, userName+nameSuffix, src.contextName+nameSuffix
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[clusterName] = cluster
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Exec: exec}
	cfg.Contexts[contextName] = &clientcmdapi.Context{Cluster: clusterName, AuthInfo: user}
	cfg.CurrentContext = contextName
	return cfg, nil
}
