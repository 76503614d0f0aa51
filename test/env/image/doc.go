// SPDX-License-Identifier: Apache-2.0

// Package image builds Selkie's container image, and the pause image the local
// environment's Kubernetes nodes run pod sandboxes from, without a container daemon. A
// Spec declares an image once: its file tree (paths, modes, owners and where each file's
// bytes come from) and its run config (user, environment, entrypoint, command).
// BuildPrograms compiles the Go programs a Spec names, Build turns the Spec into a
// reproducible single-layer OCI image with go-containerregistry, and WriteOCITarball
// writes one or more named images as an OCI image-layout tarball for
// `ctr -n k8s.io images import`. test/env/cmd/selkie-image (`make image`) drives it.
//
// SelkieSpec is the image the Dockerfile's final stage builds. The Dockerfile stays the
// way to build it with docker or podman (`make image-docker`); TestDockerfileMatchesSelkieSpec
// reads the Dockerfile into a Spec and fails on any difference, so the two change
// together.
//
// The package does not pull base images (its images have none), push, or run
// containers. It is test tooling for `make image` and the integration tests, not product
// code.
package image
