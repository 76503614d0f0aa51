// Command etcd is etcd's own server main, built at the version k8s.io/kubernetes
// pins so that it shares compiled dependencies with kube-apiserver.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
