// SPDX-License-Identifier: Apache-2.0

package crdvalidation

import (
	"context"
	"fmt"
	"os"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// Validator validates objects of one CRD version.
type Validator struct {
	// CRD is the CRD as read from its YAML file.
	CRD *apiextensionsv1.CustomResourceDefinition

	internal   *apiextensions.CustomResourceDefinition
	structural *structuralschema.Structural
	schema     apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

// Load reads a CRD YAML file and prepares a Validator for its only version.
func Load(path string) (*Validator, error) {
	raw, err := os.ReadFile(path) //nolint:gosec // G304: the caller's own CRD file.
	if err != nil {
		return nil, fmt.Errorf("read CRD: %w", err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(raw, crd); err != nil {
		return nil, fmt.Errorf("decode CRD %s: %w", path, err)
	}
	if len(crd.Spec.Versions) != 1 {
		return nil, fmt.Errorf("CRD %s: want exactly one version, got %d", crd.Name, len(crd.Spec.Versions))
	}

	internal := &apiextensions.CustomResourceDefinition{}
	if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(crd, internal, nil); err != nil {
		return nil, fmt.Errorf("convert CRD %s: %w", crd.Name, err)
	}
	version := crd.Spec.Versions[0].Name
	validation, err := apiextensions.GetSchemaForVersion(internal, version)
	if err != nil || validation == nil || validation.OpenAPIV3Schema == nil {
		return nil, fmt.Errorf("CRD %s: no schema for %s: %v", crd.Name, version, err)
	}
	structural, err := structuralschema.NewStructural(validation.OpenAPIV3Schema)
	if err != nil {
		return nil, fmt.Errorf("CRD %s: structural schema: %w", crd.Name, err)
	}
	schemaValidator, _, err := apiservervalidation.NewSchemaValidator(validation.OpenAPIV3Schema)
	if err != nil {
		return nil, fmt.Errorf("CRD %s: schema validator: %w", crd.Name, err)
	}
	return &Validator{
		CRD:        crd,
		internal:   internal,
		structural: structural,
		schema:     schemaValidator,
		cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
	}, nil
}

// ValidateCRD runs the API server's checks of the CRD itself, including the
// compilation and cost estimation of every CEL rule.
func (v *Validator) ValidateCRD(ctx context.Context) field.ErrorList {
	crd := v.internal.DeepCopy()
	crd.Status.StoredVersions = []string{crd.Spec.Versions[0].Name}
	return apiextensionsvalidation.ValidateCustomResourceDefinition(ctx, crd)
}

// Default applies the schema defaults to obj in place, as the API server does
// before validation.
func (v *Validator) Default(obj map[string]any) {
	structuraldefaulting.Default(obj, v.structural)
}

// Validate prunes, defaults and validates a copy of obj as a create and returns
// every problem found. Unknown (pruned) fields are reported as errors so that
// typos in test objects do not pass silently.
func (v *Validator) Validate(ctx context.Context, obj map[string]any) field.ErrorList {
	u := runtime.DeepCopyJSON(obj)
	var errs field.ErrorList
	for _, p := range structuralpruning.PruneWithOptions(u, v.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		errs = append(errs, field.Forbidden(field.NewPath(p), "unknown field"))
	}
	v.Default(u)
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, u, v.schema)...)
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, v.structural, u)...)
	celErrs, _ := v.cel.Validate(ctx, nil, v.structural, u, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}
