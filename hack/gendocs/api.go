// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/yaml"

	"github.com/selkie-dev/selkie/generated/openapi"
	identityv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/identity/v1alpha1"
	loginv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/login/v1alpha1"
	clientsecretv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/clientsecret/v1alpha1"
	sessionv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/session/v1alpha1"
)

const modulePath = "github.com/selkie-dev/selkie/"

// apiKind is one kind of one group version, as the reference shows it.
type apiKind struct {
	Group, Version, Kind string
	// Served says how the kind is served: by a CRD or by an aggregated API server.
	Served      string
	Resource    string // CRDs: plural.group
	Scope       string // CRDs: Namespaced or Cluster
	Description string
	Fields      []apiField
}

// apiField is one field of a kind, addressed by its JSON path below the object.
type apiField struct {
	Path, Type  string
	Required    bool
	Description string
}

// loadCRDKinds reads every served version of every CRD in dir.
func loadCRDKinds(dir string) ([]apiKind, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no CRDs in %s", dir)
	}
	var kinds []apiKind
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(raw, &crd); err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			root, err := toSpecSchema(v.Schema.OpenAPIV3Schema)
			if err != nil {
				return nil, fmt.Errorf("schema of %s %s: %w", crd.Name, v.Name, err)
			}
			w := schemaWalker{showZeroDefaults: true}
			w.walkObject("", root)
			kinds = append(kinds, apiKind{
				Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind,
				Served:      "CustomResourceDefinition",
				Resource:    crd.Spec.Names.Plural + "." + crd.Spec.Group,
				Scope:       string(crd.Spec.Scope),
				Description: root.Description,
				Fields:      w.fields,
			})
		}
	}
	return kinds, nil
}

// toSpecSchema converts a CRD schema to the OpenAPI type of the aggregated APIs'
// definitions, so one walker serves both.
func toSpecSchema(in *apiextensionsv1.JSONSchemaProps) (spec.Schema, error) {
	var out spec.Schema
	raw, err := json.Marshal(in)
	if err != nil {
		return out, err
	}
	return out, json.Unmarshal(raw, &out)
}

// loadAggregatedKinds returns the kinds of the aggregated API groups from the
// OpenAPI definitions openapi-gen derived from their Go types.
func loadAggregatedKinds() ([]apiKind, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		loginv1alpha1.AddToScheme, identityv1alpha1.AddToScheme,
		clientsecretv1alpha1.AddToScheme, sessionv1alpha1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	defs := openapi.GetOpenAPIDefinitions(func(name string) spec.Ref { return spec.MustCreateRef(name) })
	var kinds []apiKind
	for gvk, t := range scheme.AllKnownTypes() {
		// AddToGroupVersion also registers the meta/v1 option types in each group.
		if !strings.HasPrefix(t.PkgPath(), modulePath) || strings.HasSuffix(gvk.Kind, "List") {
			continue
		}
		named, ok := reflect.New(t).Elem().Interface().(interface{ OpenAPIModelName() string })
		if !ok {
			return nil, fmt.Errorf("%s has no OpenAPI model name", gvk)
		}
		def, ok := defs[named.OpenAPIModelName()]
		if !ok {
			return nil, fmt.Errorf("no OpenAPI definition for %s", named.OpenAPIModelName())
		}
		w := schemaWalker{defs: defs}
		w.walkObject("", def.Schema)
		kinds = append(kinds, apiKind{
			Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind,
			Served:      "aggregated API",
			Description: def.Schema.Description,
			Fields:      w.fields,
		})
	}
	return kinds, nil
}

// opaqueRefs are referenced types the reference names instead of expanding.
var opaqueRefs = map[string]bool{ //nolint:gochecknoglobals // constant lookup table
	"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": true,
}

// schemaWalker flattens a schema into fields, resolving references in defs.
type schemaWalker struct {
	defs map[string]common.OpenAPIDefinition
	// showZeroDefaults keeps defaults such as false and "": CRD defaults are explicit
	// markers, while openapi-gen adds zero defaults to every non-pointer field.
	showZeroDefaults bool
	fields           []apiField
	stack            []string // references being expanded, against cycles
}

// resolve follows s's reference, returning the target and its name.
func (w *schemaWalker) resolve(s spec.Schema) (spec.Schema, string) {
	ref := s.Ref.String()
	if ref == "" && len(s.AllOf) == 1 {
		ref = s.AllOf[0].Ref.String()
	}
	if ref == "" {
		return s, ""
	}
	def, ok := w.defs[ref]
	if !ok {
		return s, ref
	}
	target := def.Schema
	if s.Description != "" {
		target.Description = s.Description
	}
	if s.Default != nil {
		target.Default = s.Default
	}
	return target, ref
}

// walkObject adds the properties of s below prefix, in name order. At the root
// apiVersion and kind are left out: every kind has them.
func (w *schemaWalker) walkObject(prefix string, s spec.Schema) {
	names := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		if prefix == "" && (name == "apiVersion" || name == "kind") {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	required := map[string]bool{}
	for _, r := range s.Required {
		required[r] = true
	}
	for _, name := range names {
		if prefix == "" && name == "metadata" {
			// CRD schemas leave it an empty object, the OpenAPI definitions reference
			// ObjectMeta: show both the same.
			w.fields = append(w.fields, apiField{Path: name, Type: "ObjectMeta", Required: required[name],
				Description: "Standard object metadata: name, namespace (namespaced kinds), labels, annotations."})
			continue
		}
		w.walkField(prefix+name, s.Properties[name], required[name])
	}
}

func (w *schemaWalker) walkField(path string, prop spec.Schema, required bool) {
	s, ref := w.resolve(prop)
	w.fields = append(w.fields, apiField{
		Path: path, Type: w.typeName(s, ref), Required: required,
		Description: w.describe(s),
	})
	if opaqueRefs[ref] || w.expanding(ref) {
		return
	}
	w.stack = append(w.stack, ref)
	defer func() { w.stack = w.stack[:len(w.stack)-1] }()
	switch {
	case len(s.Properties) > 0:
		w.walkObject(path+".", s)
	case s.Items != nil && s.Items.Schema != nil:
		if item, itemRef := w.resolve(*s.Items.Schema); len(item.Properties) > 0 && !opaqueRefs[itemRef] && !w.expanding(itemRef) {
			w.stack = append(w.stack, itemRef)
			w.walkObject(path+"[].", item)
			w.stack = w.stack[:len(w.stack)-1]
		}
	case s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil:
		if value, valueRef := w.resolve(*s.AdditionalProperties.Schema); len(value.Properties) > 0 && !w.expanding(valueRef) {
			w.stack = append(w.stack, valueRef)
			w.walkObject(path+".*.", value)
			w.stack = w.stack[:len(w.stack)-1]
		}
	}
}

func (w *schemaWalker) expanding(ref string) bool {
	if ref == "" {
		return false
	}
	for _, r := range w.stack {
		if r == ref {
			return true
		}
	}
	return false
}

// typeName renders s's type: string, []string, map[string]string, string (date-time),
// or the short name of an opaque reference.
func (w *schemaWalker) typeName(s spec.Schema, ref string) string {
	if opaqueRefs[ref] {
		return ref[strings.LastIndex(ref, ".")+1:]
	}
	if b, ok := s.Extensions.GetBool("x-kubernetes-int-or-string"); ok && b {
		return "int-or-string"
	}
	if len(s.Type) == 0 {
		return "any"
	}
	switch t := s.Type[0]; {
	case t == "array" && s.Items != nil && s.Items.Schema != nil:
		item, itemRef := w.resolve(*s.Items.Schema)
		return "[]" + w.typeName(item, itemRef)
	case t == "object" && s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil:
		value, valueRef := w.resolve(*s.AdditionalProperties.Schema)
		return "map[string]" + w.typeName(value, valueRef)
	case s.Format != "":
		return t + " (" + s.Format + ")"
	default:
		return t
	}
}
