// SPDX-License-Identifier: Apache-2.0

// Package carvel holds no code: <component>/config are the ytt templates of the
// supervisor and the concierge (the source every other install format is rendered
// from, by hack/update-deploy.sh), and package/ the kapp-controller Package and
// PackageMetadata of each. Its test checks the packages' shape.
package carvel
