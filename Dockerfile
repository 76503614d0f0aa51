# SPDX-License-Identifier: Apache-2.0

# One image with one Selkie program in /usr/local/bin: selkie-server (cmd/server), the
# supervisor, the concierge and the CLI in a single binary, and the symbolic links
# selkie-supervisor, selkie-concierge and selkie to it; selkie-server takes its role from
# the name it runs as. The final stage is empty apart from these, CA certificates, a
# nonroot user (65532) and writable /tmp and home directories: no shell, no package
# manager. Deployments pick the role with their command (for example
# `command: [selkie-supervisor]`).
#
#   docker build --build-arg VERSION=v0.1.0 -t selkie:dev .   (or make image-docker)
#
# `make image` builds the same image without a container daemon (test/env/image). Its
# SelkieSpec declares this final stage's files, modes, owners, ENV, USER and CMD, and
# TestDockerfileMatchesSelkieSpec reads this file and fails when the two differ: change
# them together.

FROM golang:1.26 AS build
# GOPROXY passes a module proxy or mirror through to `go mod download`.
ARG GOPROXY
# VERSION is what `<binary> version` prints; the Makefile passes `git describe`.
ARG VERSION=dev
# Set by BuildKit for the platform being built; empty means the build host's.
ARG TARGETOS
ARG TARGETARCH
ENV CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} GOPROXY=${GOPROXY}
WORKDIR /src

# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
# The same flags as the Makefile's build target: static, trimmed, version stamped.
RUN go build -trimpath \
      -ldflags "-s -w -X github.com/selkie-dev/selkie/pkg/version.version=${VERSION}" \
      -o /out/rootfs/usr/local/bin/selkie-server ./cmd/server

# The root file system of the final stage, owned by root; only /tmp (sticky, like
# every /tmp) and the home directory are writable by the nonroot user. /home is made
# here so that it stays root's: BuildKit gives a directory that COPY --chown creates to
# the --chown user. The links are relative (they name selkie-server in their own
# directory), and COPY keeps them links.
RUN mkdir -p /out/rootfs/etc/ssl/certs /out/rootfs/home /out/rootfs/tmp /out/home/nonroot \
 && cp /etc/ssl/certs/ca-certificates.crt /out/rootfs/etc/ssl/certs/ \
 && echo 'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >/out/rootfs/etc/passwd \
 && echo 'nonroot:x:65532:' >/out/rootfs/etc/group \
 && chmod 1777 /out/rootfs/tmp \
 && chmod 0755 /out/rootfs/usr/local/bin/selkie-server \
 && ln -s selkie-server /out/rootfs/usr/local/bin/selkie \
 && ln -s selkie-server /out/rootfs/usr/local/bin/selkie-concierge \
 && ln -s selkie-server /out/rootfs/usr/local/bin/selkie-supervisor

FROM scratch
COPY --from=build /out/rootfs/ /
COPY --from=build --chown=65532:65532 /out/home/ /home/
# No shell to read a profile: the program and its links are found through this PATH.
ENV PATH=/usr/local/bin HOME=/home/nonroot SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
CMD ["selkie", "version"]
