# Thin Makefile: every target calls a script in hack/ or a single go command.
SHELL := /usr/bin/env bash
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/selkie-dev/selkie/pkg/version.version=$(VERSION)
BIN := bin
# One build configuration for every target but the race tier: static (CGO_ENABLED=0) and
# trimmed (-trimpath), as release builds and the image are. `make verify`, `make image`, the
# integration tests and the binaries they build then share one compile of the dependency
# graph instead of two (the race tier needs cgo and compiles its own anyway).
export CGO_ENABLED ?= 0
ifeq ($(filter -trimpath,$(GOFLAGS)),)
export GOFLAGS := $(strip $(GOFLAGS) -trimpath)
endif
TRIMPATH ?= -trimpath
CGO ?= $(CGO_ENABLED)
ENV_ARGS ?= -workload-clusters=1
# IMAGE_ARGS are passed to test/env/cmd/selkie-image by `make image`, e.g.
# IMAGE_ARGS='-tag selkie:dev,selkie:dev2 -pause'.
IMAGE_ARGS ?= -tag selkie:dev

.PHONY: all build demo test test-unit test-integration generate verify lint env peers vet bench fuzz image image-docker

all: build

# build builds the CLI and both servers as separate binaries (for workstations and the
# tests), and selkie-server, the image's one program that is all three.
build:
	CGO_ENABLED=$(CGO) go build $(TRIMPATH) -ldflags "$(LDFLAGS)" -o $(BIN)/selkie ./cmd/cli
	CGO_ENABLED=$(CGO) go build $(TRIMPATH) -ldflags "$(LDFLAGS)" -o $(BIN)/selkie-supervisor ./cmd/supervisor
	CGO_ENABLED=$(CGO) go build $(TRIMPATH) -ldflags "$(LDFLAGS)" -o $(BIN)/selkie-concierge ./cmd/concierge
	CGO_ENABLED=$(CGO) go build $(TRIMPATH) -ldflags "$(LDFLAGS)" -o $(BIN)/selkie-server ./cmd/server

# demo builds the image, starts the local environment with a node per cluster, installs
# the supervisor and the concierge as pods with the Helm chart and logs kubectl in through
# them (DEMO_KEEP=1 holds it).
demo:
	hack/demo.sh

# test runs the unit tier, then the integration tier against the real local environment.
test: test-unit test-integration

# test-unit runs with the race detector (it needs cgo and a C compiler) and writes a
# coverage profile to bin/coverage.out (per-function figures: go tool cover -func=bin/coverage.out;
# a page: go tool cover -html=bin/coverage.out); it prints the total.
test-unit:
	mkdir -p $(BIN)
	CGO_ENABLED=1 go test -race -coverprofile=$(BIN)/coverage.out ./...
	go tool cover -func=$(BIN)/coverage.out | tail -n 1

test-integration:
	hack/test-integration.sh

# fuzz runs every fuzz target for FUZZTIME (default 10m) each; go test ./... runs their
# seed corpora.
fuzz:
	hack/fuzz.sh

# bench runs the Go benchmarks, unit and integration (no timed assertions; read the figures),
# and prints the performance table: each figure beside the floor measured in the same run.
bench:
	hack/bench.sh

# generate runs every code generator (deepcopy, conversion, defaults, openapi, clients, CRDs),
# renders deploy/manifests, the kapp-controller packages and the Helm chart's generated files
# from deploy/carvel, and writes the CLI and API references in docs/reference.
generate:
	hack/update-codegen.sh
	hack/update-deploy.sh
	hack/update-docs.sh

# image builds the container image without a container daemon: selkie-server (as build
# does) and its links, laid out as the Dockerfile's final stage, written as the OCI image-layout
# tarball $(BIN)/selkie-image.tar named selkie:dev (IMAGE_ARGS), for
# `ctr -n k8s.io images import $(BIN)/selkie-image.tar`. The same binaries give the same digest.
image:
	go run ./test/env/cmd/selkie-image -o $(BIN)/selkie-image.tar -version "$(VERSION)" $(IMAGE_ARGS)

# image-docker builds the same image from the Dockerfile with docker or podman, tagged
# selkie:dev (IMAGE=...), when a daemon runs; otherwise it says so and succeeds.
image-docker:
	hack/build-image.sh

# verify regenerates and fails on drift, and runs the static checks.
# lint runs golangci-lint (pinned in hack/tools/lint) with .golangci.yaml; verify runs it too.
lint:
	hack/lint.sh

verify:
	hack/verify.sh

vet:
	go vet ./...

# peers builds (or finds in the cache) kube-apiserver, etcd, kube-controller-manager, kubectl,
# Dex, ytt and Helm.
peers:
	hack/peer-bins.sh all

# env starts the local environment and holds it open until Ctrl-C.
env:
	go build -o $(BIN)/selkie-env ./test/env/cmd/selkie-env && exec $(BIN)/selkie-env $(ENV_ARGS)
