// SPDX-License-Identifier: Apache-2.0

package clusterinfo

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestGet(t *testing.T) {
	t.Parallel()
	cm := func(kubeconfig string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-public", Name: "cluster-info"}, Data: map[string]string{"kubeconfig": kubeconfig}}
	}
	good := "apiVersion: v1\nkind: Config\nclusters:\n- name: ''\n  cluster:\n    server: https://10.0.0.1:6443\n    certificate-authority-data: Zm9v\n"
	tests := []struct {
		name    string
		objs    []*corev1.ConfigMap
		want    Info
		wantErr string
	}{
		{name: "kubeadm shape", objs: []*corev1.ConfigMap{cm(good)}, want: Info{Server: "https://10.0.0.1:6443", CAData: []byte("foo")}},
		{name: "missing", wantErr: "read kube-public/cluster-info"},
		{name: "garbage", objs: []*corev1.ConfigMap{cm("{{{")}, wantErr: "no valid kubeconfig"},
		{name: "no CA", objs: []*corev1.ConfigMap{cm("apiVersion: v1\nkind: Config\nclusters:\n- name: x\n  cluster: {server: https://a}\n")}, wantErr: "no cluster with a server and CA data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client := fake.NewClientset()
			for _, o := range tt.objs {
				_, _ = client.CoreV1().ConfigMaps(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{})
			}
			got, err := Get(context.Background(), client)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got.Server != tt.want.Server || string(got.CAData) != string(tt.want.CAData) {
				t.Errorf("Get = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
