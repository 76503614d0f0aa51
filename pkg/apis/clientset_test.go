// SPDX-License-Identifier: Apache-2.0

package apis_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	conciergefake "github.com/selkie-dev/selkie/generated/client/concierge/clientset/versioned/fake"
	conciergeinformers "github.com/selkie-dev/selkie/generated/client/concierge/informers/externalversions"
	supervisorfake "github.com/selkie-dev/selkie/generated/client/supervisor/clientset/versioned/fake"
	supervisorinformers "github.com/selkie-dev/selkie/generated/client/supervisor/informers/externalversions"
	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	loginv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/login/v1alpha1"
	clientsecretv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/clientsecret/v1alpha1"
	supervisorconfigv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
	sessionv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/session/v1alpha1"
)

// TestConciergeClients exercises the generated concierge clientset, its fake and
// its informers.
func TestConciergeClients(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	jwt := &authenticationv1alpha1.JWTAuthenticator{
		ObjectMeta: metav1.ObjectMeta{Name: "supervisor"},
		Spec:       authenticationv1alpha1.JWTAuthenticatorSpec{Issuer: "https://id.example.com", Audience: "cluster-a"},
	}
	client := conciergefake.NewSimpleClientset(jwt)

	got, err := client.AuthenticationV1alpha1().JWTAuthenticators().Get(ctx, "supervisor", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(jwt.Spec, got.Spec); diff != "" {
		t.Errorf("JWTAuthenticator spec (-want +got):\n%s", diff)
	}

	if _, err := client.LoginV1alpha1().TokenCredentialRequests().Create(ctx, &loginv1alpha1.TokenCredentialRequest{
		Spec: loginv1alpha1.TokenCredentialRequestSpec{Token: "t"},
	}, metav1.CreateOptions{}); err != nil {
		t.Errorf("create TokenCredentialRequest: %v", err)
	}

	factory := conciergeinformers.NewSharedInformerFactory(client, time.Minute)
	informer := factory.Authentication().V1alpha1().JWTAuthenticators()
	informer.Informer() // register before starting
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	if !cache.WaitForCacheSync(stop, informer.Informer().HasSynced) {
		t.Fatal("informer did not sync")
	}
	listed, err := informer.Lister().Get("supervisor")
	if err != nil {
		t.Fatal(err)
	}
	if listed.Spec.Issuer != jwt.Spec.Issuer {
		t.Errorf("lister issuer = %q, want %q", listed.Spec.Issuer, jwt.Spec.Issuer)
	}
}

// TestSupervisorClients exercises the generated supervisor clientset, its fake
// and its informers.
func TestSupervisorClients(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fd := &supervisorconfigv1alpha1.FederationDomain{
		ObjectMeta: metav1.ObjectMeta{Name: "fd1", Namespace: "selkie-supervisor"},
		Spec:       supervisorconfigv1alpha1.FederationDomainSpec{Issuer: "https://id.example.com/fd1"},
	}
	sess := &sessionv1alpha1.SupervisorSession{
		ObjectMeta: metav1.ObjectMeta{Name: "aaaaaaaaaaaaaaaaaaaaaaaaaa", Namespace: "selkie-supervisor"},
		Status:     sessionv1alpha1.SupervisorSessionStatus{Username: "alice", ClientID: "pinniped-cli"},
	}
	client := supervisorfake.NewSimpleClientset(fd, sess)

	sessions := client.SessionV1alpha1().SupervisorSessions("selkie-supervisor")
	if listed, err := sessions.List(ctx, metav1.ListOptions{}); err != nil || len(listed.Items) != 1 || listed.Items[0].Status.Username != "alice" {
		t.Errorf("list SupervisorSessions: %+v, %v", listed, err)
	}
	if err := sessions.Delete(ctx, sess.Name, metav1.DeleteOptions{}); err != nil {
		t.Errorf("delete SupervisorSession: %v", err)
	}

	if _, err := client.ClientSecretV1alpha1().OIDCClientSecretRequests("selkie-supervisor").Create(ctx,
		&clientsecretv1alpha1.OIDCClientSecretRequest{
			ObjectMeta: metav1.ObjectMeta{Name: "client.oauth.pinniped.dev-webapp"},
			Spec:       clientsecretv1alpha1.OIDCClientSecretRequestSpec{GenerateNewSecret: true},
		}, metav1.CreateOptions{}); err != nil {
		t.Errorf("create OIDCClientSecretRequest: %v", err)
	}

	factory := supervisorinformers.NewSharedInformerFactory(client, time.Minute)
	informer := factory.Config().V1alpha1().FederationDomains()
	informer.Informer()
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	if !cache.WaitForCacheSync(stop, informer.Informer().HasSynced) {
		t.Fatal("informer did not sync")
	}
	listed, err := informer.Lister().FederationDomains("selkie-supervisor").Get("fd1")
	if err != nil {
		t.Fatal(err)
	}
	if listed.Spec.Issuer != fd.Spec.Issuer {
		t.Errorf("lister issuer = %q, want %q", listed.Spec.Issuer, fd.Spec.Issuer)
	}
}
