// SPDX-License-Identifier: Apache-2.0

package carvel

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// pkg is the part of kapp-controller's data.packaging.carvel.dev/v1alpha1 Package this
// repository fills in (kapp-controller serves that API itself; no CRD or Go module of it
// is available here, so the shape is checked field by field).
type pkg struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		RefName      string   `json:"refName"`
		Version      string   `json:"version"`
		Licenses     []string `json:"licenses"`
		ReleaseNotes string   `json:"releaseNotes"`
		ValuesSchema struct {
			OpenAPIv3 struct {
				Type                 string                    `json:"type"`
				AdditionalProperties bool                      `json:"additionalProperties"`
				Properties           map[string]map[string]any `json:"properties"`
			} `json:"openAPIv3"`
		} `json:"valuesSchema"`
		Template struct {
			Spec struct {
				Fetch []struct {
					ImgpkgBundle *struct {
						Image string `json:"image"`
					} `json:"imgpkgBundle"`
				} `json:"fetch"`
				Template []struct {
					Ytt *struct {
						Paths []string `json:"paths"`
					} `json:"ytt"`
				} `json:"template"`
				Deploy []struct {
					Kapp *struct{} `json:"kapp"`
				} `json:"deploy"`
			} `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

type metadata struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		DisplayName        string   `json:"displayName"`
		ShortDescription   string   `json:"shortDescription"`
		LongDescription    string   `json:"longDescription"`
		ProviderName       string   `json:"providerName"`
		SupportDescription string   `json:"supportDescription"`
		Categories         []string `json:"categories"`
	} `json:"spec"`
}

func readStrict(t *testing.T, file string, into any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

func TestPackages(t *testing.T) {
	for _, c := range []string{"supervisor", "concierge"} {
		t.Run(c, func(t *testing.T) {
			var p pkg
			readStrict(t, filepath.Join("package", c+"-package.yaml"), &p)
			var m metadata
			readStrict(t, filepath.Join("package", c+"-metadata.yaml"), &m)
			ref := c + ".selkie.dev"
			if p.APIVersion != "data.packaging.carvel.dev/v1alpha1" || p.Kind != "Package" ||
				m.APIVersion != p.APIVersion || m.Kind != "PackageMetadata" {
				t.Errorf("kinds: %s %s, %s %s", p.APIVersion, p.Kind, m.APIVersion, m.Kind)
			}
			// kapp-controller requires the Package name <refName>.<version> and a
			// PackageMetadata named refName.
			if p.Spec.RefName != ref || p.Metadata.Name != ref+"."+p.Spec.Version || m.Metadata.Name != ref || p.Spec.Version == "" {
				t.Errorf("names: Package %s (refName %s, version %s), PackageMetadata %s", p.Metadata.Name, p.Spec.RefName, p.Spec.Version, m.Metadata.Name)
			}
			if m.Spec.DisplayName == "" || m.Spec.ShortDescription == "" || m.Spec.LongDescription == "" {
				t.Error("PackageMetadata lacks a name or description")
			}
			s := p.Spec.Template.Spec
			if len(s.Fetch) != 1 || s.Fetch[0].ImgpkgBundle == nil || !strings.Contains(s.Fetch[0].ImgpkgBundle.Image, "selkie-"+c+"-package") ||
				len(s.Template) != 1 || s.Template[0].Ytt == nil || !slices.Equal(s.Template[0].Ytt.Paths, []string{"config"}) ||
				len(s.Deploy) != 1 || s.Deploy[0].Kapp == nil {
				t.Errorf("template: %+v", s)
			}
			// The schema must be the templates' own: every default data value is a
			// property, and nothing else is.
			// The chart's values.yaml is rendered from the same defaults (ytt
			// --data-values-inspect), under the component's name.
			data, err := os.ReadFile(filepath.Join("..", "helm", "selkie", "values.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var all map[string]map[string]any
			if err := yaml.Unmarshal(data, &all); err != nil {
				t.Fatal(err)
			}
			values := all[c]
			delete(values, "enabled")
			schema := p.Spec.ValuesSchema.OpenAPIv3
			if schema.Type != "object" || schema.AdditionalProperties {
				t.Errorf("schema: type %q, additionalProperties %v", schema.Type, schema.AdditionalProperties)
			}
			for k := range values {
				if _, ok := schema.Properties[k]; !ok {
					t.Errorf("value %s is not in the Package's schema", k)
				}
			}
			for k, prop := range schema.Properties {
				if _, ok := values[k]; !ok {
					t.Errorf("schema property %s has no default value", k)
				}
				if _, ok := prop["default"]; !ok && prop["type"] != "object" {
					t.Errorf("schema property %s has no default", k)
				}
			}
		})
	}
}
