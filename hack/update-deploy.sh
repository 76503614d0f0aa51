#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0

# update-deploy.sh renders what deploy/ derives from its sources:
#
#   generated/crds/*.{concierge,supervisor}.*  -> deploy/carvel/<component>/config/10-crds/
#   deploy/carvel/<component>/config (ytt, default values)
#                                         -> deploy/manifests/<component>-crds.yaml, <component>.yaml
#   the values schema of each component   -> deploy/carvel/package/<component>-package.yaml
#                                            and <component>-metadata.yaml (kapp-controller)
#   the CRDs, defaults and schemas        -> deploy/helm/selkie/files/crds/<component>/,
#                                            values.yaml and values.schema.json
#
# With --check it renders into a scratch directory and fails, listing the files, when the
# tree differs (make verify); it never modifies the tree then. ytt comes from
# hack/peer-bins.sh (built from the Go module proxy), or from $SELKIE_YTT_BIN.
set -o errexit -o nounset -o pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
check=false
[ "${1:-}" = --check ] && check=true

ytt_dir=${SELKIE_YTT_BIN:-}
[ -n "$ytt_dir" ] || ytt_dir=$(hack/peer-bins.sh ytt | sed -n 's/^SELKIE_YTT_BIN=//p')
ytt=$ytt_dir/ytt

out=$(mktemp -d "${TMPDIR:-/tmp}/selkie-deploy.XXXXXX")
trap 'rm -rf "$out"' EXIT

components=(concierge supervisor)
package_version=0.1.0

for c in "${components[@]}"; do
  # The CRDs of the component's API groups, named by kind.
  mkdir -p "$out/deploy/carvel/$c/config/10-crds"
  for f in generated/crds/*."$c".selkie.dev_*.yaml; do
    cp "$f" "$out/deploy/carvel/$c/config/10-crds/${f##*_}"
  done

  # The templates as they will be after the copy above, rendered with default values.
  work=$out/scratch/$c
  mkdir -p "$work"
  cp -R "deploy/carvel/$c/config" "$work/config"
  rm -rf "$work/config/10-crds"
  cp -R "$out/deploy/carvel/$c/config/10-crds" "$work/config/10-crds"
  "$ytt" -f "$work/config" --output-files "$work/rendered" >/dev/null

  mkdir -p "$out/deploy/manifests"
  header="# Selkie $c: rendered by hack/update-deploy.sh from deploy/carvel/$c with the default
# values. Do not edit: change the templates (or the API types) and run make generate."
  {
    echo "$header"
    for f in "$work"/rendered/10-crds/*.yaml; do echo "---"; cat "$f"; done
  } >"$out/deploy/manifests/$c-crds.yaml"
  {
    echo "$header"
    find "$work/rendered" -maxdepth 1 -name '*.yaml' | sort | while read -r f; do
      # ytt writes an empty file for a template that renders no document.
      [ -s "$f" ] || continue
      echo "---"; cat "$f"
    done
  } >"$out/deploy/manifests/$c.yaml"

  # kapp-controller Package and PackageMetadata with the component's values schema.
  mkdir -p "$out/deploy/carvel/package"
  "$ytt" -f "$work/config" --data-values-schema-inspect -o openapi-v3 >"$work/schema.yaml"
  "$ytt" -f deploy/carvel/package/templates/package.yaml -f deploy/carvel/package/templates/values.yaml \
    -f "$work/schema.yaml" --file-mark schema.yaml:type=data \
    -v component="$c" -v version="$package_version" >"$out/deploy/carvel/package/$c-package.yaml"
  "$ytt" -f deploy/carvel/package/templates/metadata.yaml -f deploy/carvel/package/templates/values.yaml \
    -v component="$c" -v version="$package_version" >"$out/deploy/carvel/package/$c-metadata.yaml"

  # The Helm chart's copy of the CRDs and the inputs of its values and schema.
  mkdir -p "$out/deploy/helm/selkie/files/crds"
  cp -R "$out/deploy/carvel/$c/config/10-crds" "$out/deploy/helm/selkie/files/crds/$c"
  "$ytt" -f "$work/config" --data-values-inspect >"$out/scratch/$c-values.yaml"
  cp "$work/schema.yaml" "$out/scratch/$c-schema.yaml"
done

# The chart's values.yaml and values.schema.json, from both components' Carvel schemas.
{
  echo "# Selkie Helm chart values: rendered by hack/update-deploy.sh from the Carvel values"
  echo "# schemas (deploy/carvel/<component>/config/values.yaml, where each key is described;"
  echo "# the same keys work with ytt). Do not edit: change those and run make generate."
  "$ytt" -f hack/deploy/helm-values.yaml -f "$out/scratch/supervisor-values.yaml" -f "$out/scratch/concierge-values.yaml" \
    --file-mark supervisor-values.yaml:type=data --file-mark concierge-values.yaml:type=data
} >"$out/deploy/helm/selkie/values.yaml"
"$ytt" -f hack/deploy/helm-schema.yaml -f "$out/scratch/supervisor-schema.yaml" -f "$out/scratch/concierge-schema.yaml" \
  --file-mark supervisor-schema.yaml:type=data --file-mark concierge-schema.yaml:type=data \
  -o json >"$out/deploy/helm/selkie/values.schema.json"

# Every generated path, relative to the root; compared (or copied) as a whole so a file
# that should no longer exist is reported (or removed) too.
generated=(deploy/manifests/concierge-crds.yaml deploy/manifests/concierge.yaml
  deploy/manifests/supervisor-crds.yaml deploy/manifests/supervisor.yaml
  deploy/carvel/concierge/config/10-crds deploy/carvel/supervisor/config/10-crds
  deploy/carvel/package/concierge-package.yaml deploy/carvel/package/concierge-metadata.yaml
  deploy/carvel/package/supervisor-package.yaml deploy/carvel/package/supervisor-metadata.yaml
  deploy/helm/selkie/files/crds deploy/helm/selkie/values.yaml deploy/helm/selkie/values.schema.json)

if $check; then
  drift=""
  for p in "${generated[@]}"; do
    if ! d=$(diff -r "$p" "$out/$p" 2>&1); then drift+="  $p"$'\n'; fi
  done
  if [ -n "$drift" ]; then
    echo "update-deploy: these differ from what deploy/carvel and generated/crds render:" >&2
    printf '%s' "$drift" >&2
    echo "update-deploy: run 'make generate' (hack/update-deploy.sh) and commit the result" >&2
    exit 1
  fi
  echo "update-deploy: deploy/manifests and deploy/carvel are up to date" >&2
  exit 0
fi

for p in "${generated[@]}"; do
  rm -rf "$p"
  mkdir -p "$(dirname "$p")"
  cp -R "$out/$p" "$p"
done
echo "update-deploy: rendered deploy/manifests, the kapp-controller packages and the Helm chart's values, schema and CRDs" >&2
