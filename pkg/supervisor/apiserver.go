// SPDX-License-Identifier: Apache-2.0

package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/selkie-dev/selkie/pkg/aggregatedapi"
	"github.com/selkie-dev/selkie/pkg/apis/suffix"
	clientsecretv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/clientsecret/v1alpha1"
	sessionv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/session/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/clientregistry"
	"github.com/selkie-dev/selkie/pkg/supervisor/clientsecretrequest"
	"github.com/selkie-dev/selkie/pkg/supervisor/sessionapi"
	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

func validateAPIFlags(f *apiFlags) error {
	if net.ParseIP(f.bindAddress) == nil {
		return fmt.Errorf("--api-bind-address %q is not an IP address", f.bindAddress)
	}
	if f.port < 0 || f.port > 65535 {
		return fmt.Errorf("--api-port %d is not a port", f.port)
	}
	return nil
}

// apiAddress is where the aggregated API listens, for the log.
func apiAddress(f *apiFlags) string {
	if f.port == 0 {
		return "disabled"
	}
	return net.JoinHostPort(f.bindAddress, strconv.Itoa(f.port))
}

// runAPIServer serves clientsecretrequest.supervisor.<suffix> (OIDCClientSecretRequest) and
// session.supervisor.<suffix> (SupervisorSession, over sessions) until ctx ends, with the
// certificate and APIService handling the concierge uses.
func runAPIServer(ctx context.Context, f *serveFlags, mgr ctrl.Manager, sessions sessionstore.Store, registry *upstream.Registry, log *slog.Logger) error {
	group := suffix.Group(clientsecretv1alpha1.GroupName, f.suffix)
	scheme, err := clientsecretrequest.NewScheme(group)
	if err != nil {
		return err
	}
	sessionGroup := suffix.Group(sessionv1alpha1.GroupName, f.suffix)
	if err := sessionapi.AddToScheme(scheme, sessionGroup); err != nil {
		return err
	}
	sessionStorage := sessionapi.NewREST(sessionapi.Config{Store: sessions, Namespace: f.namespace, Group: sessionGroup,
		Revoke: revokeUpstream(registry), LogUserInfo: f.logUserInfo, Fingerprint: f.logFingerprint, Log: log.With("component", "supervisorsession")})
	// Requests read from the API server, not the manager's cache: a request right after
	// an OIDCClient is created must find it, and hash updates rely on the resourceVersion
	// they read (a concurrent change is a 409).
	direct := struct {
		client.Reader
		client.Writer
	}{mgr.GetAPIReader(), mgr.GetClient()}
	store := &clientregistry.SecretStore{Client: direct, Namespace: f.namespace, OIDCClientAPIVersion: configGroupVersion(f.suffix)}
	storage := clientsecretrequest.NewREST(mgr.GetAPIReader(), store, f.namespace,
		schema.GroupResource{Group: group, Resource: clientsecretrequest.Resource}, log.With("component", "oidcclientsecretrequest"))
	return aggregatedapi.Run(ctx, aggregatedapi.Config{
		Name: "selkie-supervisor", Title: "Selkie Supervisor",
		Kubeconfig: f.kubeconfig, Namespace: f.namespace,
		BindAddress: net.ParseIP(f.api.bindAddress), SecurePort: f.api.port,
		ServiceName: f.api.serviceName, ServingCertSecret: f.api.servingCertSecret, CertDir: f.api.certDir,
		Scheme: scheme,
		Groups: []aggregatedapi.Group{
			{Name: group, Resources: map[string]rest.Storage{clientsecretrequest.Resource: storage}},
			{Name: sessionGroup, Resources: map[string]rest.Storage{sessionapi.Resource: sessionStorage}},
		},
		JSONOnly: true,
		Log:      log.With("component", "apiserver"),
	})
}

// configGroupVersion is the apiVersion of FederationDomains and OIDCClients.
func configGroupVersion(sfx string) string {
	return suffix.Group("config.supervisor."+suffix.Default, sfx) + "/v1alpha1"
}
