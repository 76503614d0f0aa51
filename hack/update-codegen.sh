#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0

# update-codegen.sh regenerates everything derived from the API types in pkg/apis:
#   pkg/apis/**/zz_generated.{deepcopy,defaults,conversion}.go  beside the types
#   generated/openapi/                 OpenAPI definitions for the aggregated APIs
#   generated/client/{concierge,supervisor}/{clientset/versioned,listers,informers}
#   generated/crds/                    one CRD YAML per kind (controller-gen)
#   hack/api-violations.list           known OpenAPI rule violations (report)
#
# The generators are pinned in hack/tools/go.mod and run with `go tool`, so the
# first run builds them (cached afterwards) and nothing else is downloaded.
set -o errexit -o nounset -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

MODULE="github.com/selkie-dev/selkie"
APIS="${MODULE}/pkg/apis"
BOILERPLATE="${ROOT}/hack/boilerplate.go.txt"
TOOLS_MODFILE="${ROOT}/hack/tools/go.mod"

# Groups served as CRDs (clients, listers, informers, CRD YAML), per component.
CONCIERGE_CRD_PKGS=(
  "${APIS}/concierge/authentication/v1alpha1"
  "${APIS}/concierge/config/v1alpha1"
)
SUPERVISOR_CRD_PKGS=(
  "${APIS}/supervisor/config/v1alpha1"
  "${APIS}/supervisor/idp/v1alpha1"
)
# Groups served by the aggregated API servers (internal version, conversion,
# defaults, OpenAPI; clients with the verbs each kind serves), per component.
CONCIERGE_AGGREGATED_PKGS=(
  "${APIS}/concierge/login/v1alpha1"
  "${APIS}/concierge/identity/v1alpha1"
)
SUPERVISOR_AGGREGATED_PKGS=(
  "${APIS}/supervisor/clientsecret/v1alpha1"
  "${APIS}/supervisor/session/v1alpha1"
)
CRD_PKGS=("${CONCIERGE_CRD_PKGS[@]}" "${SUPERVISOR_CRD_PKGS[@]}")
AGGREGATED_PKGS=("${CONCIERGE_AGGREGATED_PKGS[@]}" "${SUPERVISOR_AGGREGATED_PKGS[@]}")
INTERNAL_PKGS=(
  "${APIS}/concierge/login"
  "${APIS}/concierge/identity"
  "${APIS}/supervisor/clientsecret"
  "${APIS}/supervisor/session"
)
# Dependencies whose OpenAPI definitions the aggregated servers also serve
# (core/v1 for the TypedLocalObjectReference of TokenCredentialRequest).
OPENAPI_DEP_PKGS=(
  "k8s.io/apimachinery/pkg/apis/meta/v1"
  "k8s.io/apimachinery/pkg/runtime"
  "k8s.io/apimachinery/pkg/version"
  "k8s.io/apimachinery/pkg/api/resource"
  "k8s.io/apimachinery/pkg/util/intstr"
  "k8s.io/api/core/v1"
)

log() { echo "update-codegen: $*" >&2; }

tool() { go tool -modfile="${TOOLS_MODFILE}" "$@"; }

join() {
  local IFS=","
  echo "$*"
}

# Remove previous output first so that deleted types leave nothing behind.
log "removing previous output"
find pkg/apis -name 'zz_generated.*.go' -delete
rm -rf generated/client generated/openapi generated/crds

log "deepcopy-gen"
tool deepcopy-gen \
  --go-header-file "${BOILERPLATE}" \
  --output-file zz_generated.deepcopy.go \
  "${CRD_PKGS[@]}" "${AGGREGATED_PKGS[@]}" "${INTERNAL_PKGS[@]}"

log "defaulter-gen"
tool defaulter-gen \
  --go-header-file "${BOILERPLATE}" \
  --output-file zz_generated.defaults.go \
  "${AGGREGATED_PKGS[@]}"

log "conversion-gen"
tool conversion-gen \
  --go-header-file "${BOILERPLATE}" \
  --output-file zz_generated.conversion.go \
  --extra-peer-dirs "k8s.io/apimachinery/pkg/apis/meta/v1,k8s.io/apimachinery/pkg/conversion,k8s.io/apimachinery/pkg/runtime" \
  "${AGGREGATED_PKGS[@]}"

# Known API rule violations (almost all in k8s.io/api/core/v1) are recorded in
# hack/api-violations.list instead of failing; verify.sh reports any change to it.
log "openapi-gen"
tool openapi-gen \
  --go-header-file "${BOILERPLATE}" \
  --output-file zz_generated.openapi.go \
  --output-model-name-file zz_generated.model_name.go \
  --output-dir generated/openapi \
  --output-pkg "${MODULE}/generated/openapi" \
  --report-filename hack/api-violations.list \
  "${AGGREGATED_PKGS[@]}" "${OPENAPI_DEP_PKGS[@]}"

# One clientset (with fake), listers and informers per component: client-gen keys
# groups by their package directory, and both components have a "config" group.
# gen_clients COMPONENT CRD_PKG_COUNT PKG...: the first CRD_PKG_COUNT packages are CRDs.
gen_clients() {
  local component="$1" n_crd="$2"
  shift 2
  local all=("$@")
  local crds=("${all[@]:0:${n_crd}}")
  local out="generated/client/${component}"
  local pkg="${MODULE}/${out}"

  log "client-gen (${component})"
  tool client-gen \
    --go-header-file "${BOILERPLATE}" \
    --clientset-name versioned \
    --input-base "" \
    --input "$(join "${all[@]}")" \
    --output-dir "${out}/clientset" \
    --output-pkg "${pkg}/clientset"

  log "lister-gen (${component})"
  tool lister-gen \
    --go-header-file "${BOILERPLATE}" \
    --output-dir "${out}/listers" \
    --output-pkg "${pkg}/listers" \
    "${crds[@]}"

  log "informer-gen (${component})"
  tool informer-gen \
    --go-header-file "${BOILERPLATE}" \
    --versioned-clientset-package "${pkg}/clientset/versioned" \
    --listers-package "${pkg}/listers" \
    --output-dir "${out}/informers" \
    --output-pkg "${pkg}/informers" \
    "${crds[@]}"
}
gen_clients concierge "${#CONCIERGE_CRD_PKGS[@]}" "${CONCIERGE_CRD_PKGS[@]}" "${CONCIERGE_AGGREGATED_PKGS[@]}"
gen_clients supervisor "${#SUPERVISOR_CRD_PKGS[@]}" "${SUPERVISOR_CRD_PKGS[@]}" "${SUPERVISOR_AGGREGATED_PKGS[@]}"

log "controller-gen (CRDs)"
crd_paths=()
for pkg in "${CRD_PKGS[@]}"; do
  crd_paths+=("paths=./${pkg#"${MODULE}/"}")
done
tool controller-gen crd:crdVersions=v1 "${crd_paths[@]}" output:crd:dir=generated/crds

log "done"
