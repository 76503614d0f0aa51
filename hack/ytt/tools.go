//go:build tools

// Package tools pins ytt, the Carvel templating tool deploy/carvel is written for.
// hack/peer-bins.sh builds it; deploy/manifests are rendered with it.
package tools

import _ "carvel.dev/ytt/cmd/ytt"
