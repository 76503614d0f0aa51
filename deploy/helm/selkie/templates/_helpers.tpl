{{/*
Names are fixed, as in deploy/carvel; only the namespace and the API group suffix vary.
Every template renders the same objects as the matching deploy/carvel file for the same
values (a test compares them).
*/}}

{{/* group: "<prefix>.<api_group_suffix>"; call with (list $values "login.concierge"). */}}
{{- define "selkie.group" -}}
{{- $v := index . 0 -}}
{{- printf "%s.%s" (index . 1) $v.api_group_suffix -}}
{{- end -}}

{{/* The pod and container security settings both components share. */}}
{{- define "selkie.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "selkie.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* Proxy environment of a component's values. */}}
{{- define "selkie.proxyEnv" -}}
{{- if .https_proxy }}
env:
- name: HTTPS_PROXY
  value: {{ .https_proxy | quote }}
- name: NO_PROXY
  value: {{ .no_proxy | quote }}
{{- end }}
{{- end -}}

{{/* CRDs of a component (files/crds/<component>), moved to the API group suffix; call with (list $ "concierge"). */}}
{{- define "selkie.crds" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- $suffix := (index $root.Values $component).api_group_suffix -}}
{{- range $path, $_ := $root.Files.Glob (printf "files/crds/%s/*.yaml" $component) }}
{{- $crd := $root.Files.Get $path | fromYaml }}
{{- if not (hasSuffix ".selkie.dev" $crd.spec.group) }}
{{- fail (printf "%s: group %s does not end in .selkie.dev" $path $crd.spec.group) }}
{{- end }}
{{- $_ := set $crd.metadata "name" (printf "%s.%s" (trimSuffix ".selkie.dev" $crd.metadata.name) $suffix) }}
{{- $_ := set $crd.spec "group" (printf "%s.%s" (trimSuffix ".selkie.dev" $crd.spec.group) $suffix) }}
---
{{ toYaml $crd }}
{{- end }}
{{- end -}}
