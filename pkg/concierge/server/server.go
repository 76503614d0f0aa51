// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"log/slog"
	"net"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"
	restclient "k8s.io/client-go/rest"

	"github.com/selkie-dev/selkie/pkg/aggregatedapi"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator"
	"github.com/selkie-dev/selkie/pkg/concierge/registry/credentialrequest"
	"github.com/selkie-dev/selkie/pkg/concierge/registry/whoamirequest"
	"github.com/selkie-dev/selkie/pkg/logfingerprint"
	"github.com/selkie-dev/selkie/pkg/ratelimit"
)

// Config is everything the concierge's API server needs.
type Config struct {
	// Kubeconfig is the path of a kubeconfig; empty means in-cluster.
	Kubeconfig string
	// Namespace is where the concierge keeps its Secrets.
	Namespace string
	// Groups are the API groups under the install's suffix.
	Groups Groups
	// BindAddress and SecurePort are where the API server listens.
	BindAddress net.IP
	SecurePort  int
	// ServiceName is the Service the APIServices point at; the serving certificate
	// names <ServiceName>.<Namespace>.svc.
	ServiceName string
	// ServingCertSecret names the Secret holding the serving CA and certificate.
	ServingCertSecret string
	// CertDir receives the serving certificate files.
	CertDir string
	// Authenticators are the live token authenticators.
	Authenticators *authenticator.Cache
	// Issuer signs client certificates.
	Issuer credentialrequest.Issuer
	// LogUserInfo puts usernames and groups in audit lines.
	LogUserInfo bool
	// Fingerprint keys the tokens' fingerprints in audit lines; nil draws one.
	Fingerprint *logfingerprint.Key
	// LoginFailures limits failed TokenCredentialRequests per client address.
	LoginFailures ratelimit.Rule
	// Log is the server's logger.
	Log *slog.Logger
}

// RESTConfig loads the client configuration named by kubeconfig, or in-cluster.
func RESTConfig(kubeconfig string) (*restclient.Config, error) {
	return aggregatedapi.RESTConfig(kubeconfig)
}

// Run serves the API until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	scheme, err := newScheme(cfg.Groups)
	if err != nil {
		return err
	}
	tcr := credentialrequest.NewREST(cfg.Authenticators, cfg.Issuer,
		schema.GroupResource{Group: cfg.Groups.Login, Resource: "tokencredentialrequests"},
		credentialrequest.Options{Log: cfg.Log.With("component", "tokencredentialrequest"), LogUserInfo: cfg.LogUserInfo, Fingerprint: cfg.Fingerprint, Failures: cfg.LoginFailures})
	whoAmI := whoamirequest.NewREST(schema.GroupResource{Group: cfg.Groups.Identity, Resource: "whoamirequests"})
	return aggregatedapi.Run(ctx, aggregatedapi.Config{
		Name: "selkie-concierge", Title: "Selkie Concierge",
		Kubeconfig: cfg.Kubeconfig, Namespace: cfg.Namespace, BindAddress: cfg.BindAddress, SecurePort: cfg.SecurePort,
		ServiceName: cfg.ServiceName, ServingCertSecret: cfg.ServingCertSecret, CertDir: cfg.CertDir,
		Scheme: scheme,
		Groups: []aggregatedapi.Group{
			{Name: cfg.Groups.Login, Resources: map[string]rest.Storage{"tokencredentialrequests": tcr}},
			{Name: cfg.Groups.Identity, Resources: map[string]rest.Storage{"whoamirequests": whoAmI}},
		},
		Log: cfg.Log,
	})
}
