// SPDX-License-Identifier: Apache-2.0

package v1alpha1_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	identityv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/identity/v1alpha1"
)

// TestWhoAmIRequestJSON checks the Go types against the example of the wire
// contract §1.5 (metadata aside, see the login package's test).
func TestWhoAmIRequestJSON(t *testing.T) {
	t.Parallel()
	const contract = `{"kind":"WhoAmIRequest","apiVersion":"identity.concierge.selkie.dev/v1alpha1","metadata":{},"spec":{},
 "status":{"kubernetesUserInfo":{"user":{"username":"user1","groups":["developers","system:authenticated"],
  "extra":{"authentication.kubernetes.io/credential-id":["X509SHA256=4f1c"]}}}}}`
	obj := &identityv1alpha1.WhoAmIRequest{
		TypeMeta: metav1.TypeMeta{Kind: "WhoAmIRequest", APIVersion: identityv1alpha1.SchemeGroupVersion.String()},
		Status: identityv1alpha1.WhoAmIRequestStatus{
			KubernetesUserInfo: identityv1alpha1.KubernetesUserInfo{
				User: identityv1alpha1.UserInfo{
					Username: "user1",
					Groups:   []string{"developers", "system:authenticated"},
					Extra: map[string]identityv1alpha1.ExtraValue{
						"authentication.kubernetes.io/credential-id": {"X509SHA256=4f1c"},
					},
				},
			},
		},
	}
	encoded, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var want, got map[string]any
	if err := json.Unmarshal([]byte(contract), &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(encoded, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("encoded JSON (-contract +got):\n%s", diff)
	}

	decoded := &identityv1alpha1.WhoAmIRequest{}
	if err := json.Unmarshal([]byte(contract), decoded); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(obj, decoded); diff != "" {
		t.Errorf("decoded object (-want +got):\n%s", diff)
	}
}
