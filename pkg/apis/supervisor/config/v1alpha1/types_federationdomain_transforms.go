// SPDX-License-Identifier: Apache-2.0

package v1alpha1

// Transform constant types.
const (
	// TransformsConstantTypeString marks a constant whose value is StringValue.
	TransformsConstantTypeString = "string"
	// TransformsConstantTypeStringList marks a constant whose value is StringListValue.
	TransformsConstantTypeStringList = "stringList"
)

// Transform expression types.
const (
	// TransformsExpressionTypePolicy is a CEL expression returning a bool; false
	// rejects the authentication with the expression's message.
	TransformsExpressionTypePolicy = "policy/v1"
	// TransformsExpressionTypeUsername is a CEL expression returning the new username.
	TransformsExpressionTypeUsername = "username/v1"
	// TransformsExpressionTypeGroups is a CEL expression returning the new groups.
	TransformsExpressionTypeGroups = "groups/v1"
)

// DefaultPolicyRejectedMessage is the message of a policy/v1 rejection whose
// expression has no message.
const DefaultPolicyRejectedMessage = "authentication was rejected by a configured policy"

// FederationDomainTransforms are identity transforms for one identity provider of
// a FederationDomain. Expressions are compiled and examples run by the supervisor;
// failures are reported by the TransformsExpressionsValid and
// TransformsExamplesPassed conditions.
type FederationDomainTransforms struct {
	// Constants are made available to the expressions as strConst.<name> and
	// strListConst.<name>.
	//
	// +patchMergeKey=name
	// +patchStrategy=merge
	// +listType=map
	// +listMapKey=name
	// +optional
	Constants []FederationDomainTransformsConstant `json:"constants,omitempty" patchStrategy:"merge" patchMergeKey:"name"`

	// Expressions are run in order at every login and refresh. The variables are
	// username (string), groups (list of strings, never null) and the constants;
	// the cel-go strings extension is available.
	//
	// +optional
	Expressions []FederationDomainTransformsExpression `json:"expressions,omitempty"`

	// Examples are sample identities run through Expressions; if any fails, the
	// identity provider is not available in this FederationDomain.
	//
	// +optional
	Examples []FederationDomainTransformsExample `json:"examples,omitempty"`
}

// FederationDomainTransformsConstant is a named constant; Type selects which value
// field is used.
type FederationDomainTransformsConstant struct {
	// Name is the constant's identifier.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-zA-Z][_a-zA-Z0-9]*$`
	Name string `json:"name"`

	// Type is string or stringList.
	//
	// +kubebuilder:validation:Enum=string;stringList
	Type string `json:"type"`

	// StringValue is the value when Type is string.
	//
	// +optional
	StringValue string `json:"stringValue,omitempty"`

	// StringListValue is the value when Type is stringList.
	//
	// +optional
	StringListValue []string `json:"stringListValue,omitempty"`
}

// FederationDomainTransformsExpression is one CEL transform or policy.
type FederationDomainTransformsExpression struct {
	// Type is policy/v1, username/v1 or groups/v1.
	//
	// +kubebuilder:validation:Enum=policy/v1;username/v1;groups/v1
	Type string `json:"type"`

	// Expression is the CEL source.
	//
	// +kubebuilder:validation:MinLength=1
	Expression string `json:"expression"`

	// Message is the rejection message of a policy/v1 expression; other types
	// ignore it. When empty, DefaultPolicyRejectedMessage is used.
	//
	// +optional
	Message string `json:"message,omitempty"`
}

// FederationDomainTransformsExample is a sample identity and its expected result.
type FederationDomainTransformsExample struct {
	// Username is the input username.
	//
	// +kubebuilder:validation:MinLength=1
	Username string `json:"username"`

	// Groups are the input groups.
	//
	// +optional
	Groups []string `json:"groups,omitempty"`

	// Expects is the expected result of running every expression.
	Expects FederationDomainTransformsExampleExpects `json:"expects"`
}

// FederationDomainTransformsExampleExpects is the expected result of an example.
type FederationDomainTransformsExampleExpects struct {
	// Username is the expected username.
	//
	// +optional
	Username string `json:"username,omitempty"`

	// Groups are the expected groups (compared after de-duplication and sorting).
	//
	// +optional
	Groups []string `json:"groups,omitempty"`

	// Rejected says that a policy is expected to reject the identity.
	//
	// +optional
	Rejected bool `json:"rejected,omitempty"`

	// Message is the expected error message: the policy's message when Rejected
	// (DefaultPolicyRejectedMessage when empty), otherwise the expected error of a
	// failing transform.
	//
	// +optional
	Message string `json:"message,omitempty"`
}
