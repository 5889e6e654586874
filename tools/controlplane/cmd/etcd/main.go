// Command etcd is the upstream etcd server: a one-line main around etcdmain, so the
// version is pinned by this module's go.mod to the one Kubernetes itself uses.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
