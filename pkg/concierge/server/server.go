// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/wait"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/component-base/compatibility"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"

	"github.com/selkie-dev/selkie/generated/openapi"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator"
	"github.com/selkie-dev/selkie/pkg/concierge/registry/credentialrequest"
	"github.com/selkie-dev/selkie/pkg/concierge/registry/whoami"
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
	// Log is the server's logger.
	Log *slog.Logger
}

// RESTConfig loads the client configuration named by kubeconfig, or in-cluster.
func RESTConfig(kubeconfig string) (*restclient.Config, error) {
	if kubeconfig == "" {
		return restclient.InClusterConfig()
	}
	return clientcmd.BuildConfigFromFlags("", kubeconfig)
}

// Run serves the API until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	kubeCfg, err := RESTConfig(cfg.Kubeconfig)
	if err != nil {
		return fmt.Errorf("kubernetes client configuration: %w", err)
	}
	certs, err := newServingCerts(kubeCfg, cfg)
	if err != nil {
		return err
	}
	if err := certs.ensure(ctx); err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	go certs.run(ctx, time.Minute)

	srv, requestHeaderCA, err := newGenericServer(cfg, certs)
	if err != nil {
		return err
	}
	if err := srv.AddPostStartHook("selkie-apiservice-cabundle", func(hctx genericapiserver.PostStartHookContext) error {
		// Until the front-proxy CA is loaded, the aggregator's requests would be anonymous
		// and denied, and it would mark the APIServices unavailable for a while.
		if err := wait.PollUntilContextTimeout(hctx, 50*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
			return requestHeaderCA == nil || len(requestHeaderCA.CurrentCABundleContent()) > 0, nil
		}); err != nil {
			cfg.Log.ErrorContext(hctx, "front-proxy CA not loaded; publishing the serving CA anyway", "error", err)
		}
		if err := certs.startServing(hctx); err != nil { // not fatal: the periodic check retries
			cfg.Log.ErrorContext(hctx, "could not publish the serving CA to the APIServices", "error", err)
		}
		return nil
	}); err != nil {
		return err
	}
	return srv.PrepareRun().RunWithContext(ctx)
}

func newServingCerts(kubeCfg *restclient.Config, cfg Config) (*servingCerts, error) {
	kube, err := kubernetes.NewForConfig(kubeCfg)
	if err != nil {
		return nil, err
	}
	agg, err := aggregator.NewForConfig(kubeCfg)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.CertDir, 0o700); err != nil {
		return nil, fmt.Errorf("certificate directory: %w", err)
	}
	return &servingCerts{
		kube: kube, aggregator: agg, namespace: cfg.Namespace, serviceName: cfg.ServiceName, secretName: cfg.ServingCertSecret,
		hosts:       []string{cfg.ServiceName + "." + cfg.Namespace + ".svc", "localhost", "127.0.0.1"},
		apiServices: []string{"v1alpha1." + cfg.Groups.Login, "v1alpha1." + cfg.Groups.Identity},
		dir:         cfg.CertDir, clock: time.Now, log: cfg.Log,
	}, nil
}

// newGenericServer returns the API server and the front-proxy CA its authentication
// trusts (loaded asynchronously after start).
func newGenericServer(cfg Config, certs *servingCerts) (*genericapiserver.GenericAPIServer, dynamiccertificates.CAContentProvider, error) {
	scheme, err := newScheme(cfg.Groups)
	if err != nil {
		return nil, nil, err
	}
	codecs := serializer.NewCodecFactory(scheme)
	rc := genericapiserver.NewRecommendedConfig(codecs)
	rc.EffectiveVersion = compatibility.NewEffectiveVersionFromString("1.37", "", "")

	serving := genericoptions.NewSecureServingOptions().WithLoopback()
	serving.BindAddress, serving.BindPort = cfg.BindAddress, cfg.SecurePort
	serving.ServerCert.CertKey = genericoptions.CertKey{CertFile: certs.certFile(), KeyFile: certs.keyFile()}
	if err := serving.ApplyTo(&rc.SecureServing, &rc.LoopbackClientConfig); err != nil {
		return nil, nil, fmt.Errorf("secure serving: %w", err)
	}
	authn := genericoptions.NewDelegatingAuthenticationOptions()
	authn.RemoteKubeConfigFile = cfg.Kubeconfig
	if err := authn.ApplyTo(&rc.Authentication, rc.SecureServing, nil); err != nil {
		return nil, nil, fmt.Errorf("delegated authentication: %w", err)
	}
	authz := genericoptions.NewDelegatingAuthorizationOptions()
	authz.RemoteKubeConfigFile = cfg.Kubeconfig
	if err := authz.ApplyTo(&rc.Authorization); err != nil {
		return nil, nil, fmt.Errorf("delegated authorization: %w", err)
	}

	rc.BuildHandlerChainFunc = func(apiHandler http.Handler, c *genericapiserver.Config) http.Handler {
		return keepAggregatorConnections(genericapiserver.DefaultBuildHandlerChain(apiHandler, c), c.Authentication.RequestHeaderConfig)
	}

	namer := openapinamer.NewDefinitionNamer(scheme)
	rc.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(openapi.GetOpenAPIDefinitions, namer)
	rc.OpenAPIConfig.Info.Title, rc.OpenAPIConfig.Info.Version = "Selkie Concierge", "v1alpha1"
	rc.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(openapi.GetOpenAPIDefinitions, namer)
	rc.OpenAPIV3Config.Info.Title, rc.OpenAPIV3Config.Info.Version = "Selkie Concierge", "v1alpha1"

	srv, err := rc.Complete().New("selkie-concierge", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, nil, fmt.Errorf("build API server: %w", err)
	}
	parameterCodec := runtime.NewParameterCodec(scheme)
	install := func(group, resource string, storage rest.Storage) error {
		info := genericapiserver.NewDefaultAPIGroupInfo(group, scheme, parameterCodec, codecs)
		info.VersionedResourcesStorageMap["v1alpha1"] = map[string]rest.Storage{resource: storage}
		return srv.InstallAPIGroup(&info)
	}
	tcr := credentialrequest.NewREST(cfg.Authenticators, cfg.Issuer,
		schema.GroupResource{Group: cfg.Groups.Login, Resource: "tokencredentialrequests"},
		credentialrequest.Options{Log: cfg.Log.With("component", "tokencredentialrequest"), LogUserInfo: cfg.LogUserInfo})
	if err := install(cfg.Groups.Login, "tokencredentialrequests", tcr); err != nil {
		return nil, nil, fmt.Errorf("install %s: %w", cfg.Groups.Login, err)
	}
	if err := install(cfg.Groups.Identity, "whoamirequests", whoami.NewREST(schema.GroupResource{Group: cfg.Groups.Identity, Resource: "whoamirequests"})); err != nil {
		return nil, nil, fmt.Errorf("install %s: %w", cfg.Groups.Identity, err)
	}
	var requestHeaderCA dynamiccertificates.CAContentProvider
	if rh := rc.Authentication.RequestHeaderConfig; rh != nil {
		requestHeaderCA = rh.CAContentProvider
	}
	return srv, requestHeaderCA, nil
}
