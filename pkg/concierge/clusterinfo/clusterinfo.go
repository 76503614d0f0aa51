// SPDX-License-Identifier: Apache-2.0

// Package clusterinfo reads the API server's public address and CA from the
// kube-public/cluster-info ConfigMap (written by kubeadm and by the local environment),
// which the concierge advertises as the TokenCredentialRequest frontend.
package clusterinfo

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
)

// Info is the cluster's advertised API server.
type Info struct {
	Server string
	CAData []byte // PEM
}

// Get reads kube-public/cluster-info.
func Get(ctx context.Context, kube kubernetes.Interface) (Info, error) {
	cm, err := kube.CoreV1().ConfigMaps("kube-public").Get(ctx, "cluster-info", metav1.GetOptions{})
	if err != nil {
		return Info{}, fmt.Errorf("read kube-public/cluster-info: %w", err)
	}
	cfg, err := clientcmd.Load([]byte(cm.Data["kubeconfig"]))
	if err != nil {
		return Info{}, fmt.Errorf("kube-public/cluster-info holds no valid kubeconfig: %w", err)
	}
	for _, c := range cfg.Clusters {
		if c.Server != "" && len(c.CertificateAuthorityData) > 0 {
			return Info{Server: c.Server, CAData: c.CertificateAuthorityData}, nil
		}
	}
	return Info{}, errors.New("kube-public/cluster-info names no cluster with a server and CA data")
}

// Frontend is the CredentialIssuer frontend that sends clients to this API server's
// TokenCredentialRequest API.
func (i Info) Frontend() *configv1alpha1.CredentialIssuerFrontend {
	return &configv1alpha1.CredentialIssuerFrontend{
		Type: configv1alpha1.TokenCredentialRequestAPIFrontendType,
		TokenCredentialRequestInfo: &configv1alpha1.TokenCredentialRequestAPIInfo{
			Server: i.Server, CertificateAuthorityData: base64.StdEncoding.EncodeToString(i.CAData),
		},
	}
}
