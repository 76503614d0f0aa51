// SPDX-License-Identifier: Apache-2.0

package aggregatedapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
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
)

// Version is the one version every aggregated group serves (docs/wire-contract.md §0.1).
const Version = "v1alpha1"

// Config is one aggregated API server.
type Config struct {
	// Name is the server's name ("selkie-concierge"); its serving CA is <Name>-serving-ca.
	Name string
	// Title heads the OpenAPI documents.
	Title string
	// Kubeconfig is the path of a kubeconfig; empty means in-cluster. Delegated
	// authentication and authorization use it too.
	Kubeconfig string
	// Namespace is where the serving certificate Secret lives and where the APIServices'
	// Service must be for the server to write their caBundle.
	Namespace string
	// BindAddress and SecurePort are where the server listens.
	BindAddress net.IP
	SecurePort  int
	// ServiceName is the Service the APIServices point at; the serving certificate
	// names <ServiceName>.<Namespace>.svc, localhost and 127.0.0.1.
	ServiceName string
	// ServingCertSecret names the Secret holding the serving CA and certificate.
	ServingCertSecret string
	// CertDir receives the serving certificate files.
	CertDir string
	// Scheme has the internal and Version types of every group, their conversions and
	// defaults, and the meta types every API server needs.
	Scheme *runtime.Scheme
	// Groups are served at Version; each has the APIService Version.<group>.
	Groups []Group
	// JSONOnly serves the groups' resources as application/json only (no YAML, no
	// protobuf), as docs/wire-contract.md §0.1 asks of aggregated APIs.
	JSONOnly bool
	// Log is the server's logger.
	Log *slog.Logger
}

// Group is one API group and its resources' storage.
type Group struct {
	// Name is the full group name, suffix included.
	Name string
	// Resources maps resource names (plural, lower case) to their storage at Version.
	Resources map[string]rest.Storage
}

// RESTConfig loads the client configuration named by kubeconfig, or in-cluster.
func RESTConfig(kubeconfig string) (*restclient.Config, error) {
	if kubeconfig == "" {
		return restclient.InClusterConfig()
	}
	return clientcmd.BuildConfigFromFlags("", kubeconfig)
}

// Run serves the groups until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Name == "" || cfg.Scheme == nil || len(cfg.Groups) == 0 || cfg.Log == nil {
		return errors.New("aggregated API server: Name, Scheme, Groups and Log are required")
	}
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
	apiServices := make([]string, 0, len(cfg.Groups))
	for _, g := range cfg.Groups {
		apiServices = append(apiServices, Version+"."+g.Name)
	}
	return &servingCerts{
		kube: kube, aggregator: agg, caName: cfg.Name + "-serving-ca",
		namespace: cfg.Namespace, serviceName: cfg.ServiceName, secretName: cfg.ServingCertSecret,
		hosts:       []string{cfg.ServiceName + "." + cfg.Namespace + ".svc", "localhost", "127.0.0.1"},
		apiServices: apiServices,
		dir:         cfg.CertDir, clock: time.Now, log: cfg.Log,
	}, nil
}

// newGenericServer returns the API server and the front-proxy CA its authentication
// trusts (loaded asynchronously after start).
func newGenericServer(cfg Config, certs *servingCerts) (*genericapiserver.GenericAPIServer, dynamiccertificates.CAContentProvider, error) {
	codecs := serializer.NewCodecFactory(cfg.Scheme)
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
	namer := openapinamer.NewDefinitionNamer(cfg.Scheme)
	rc.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(withoutUnusedCoreTypes(openapi.GetOpenAPIDefinitions), namer)
	rc.OpenAPIConfig.Info.Title, rc.OpenAPIConfig.Info.Version = cfg.Title, Version
	rc.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(withoutUnusedCoreTypes(openapi.GetOpenAPIDefinitions), namer)
	rc.OpenAPIV3Config.Info.Title, rc.OpenAPIV3Config.Info.Version = cfg.Title, Version
	srv, err := rc.Complete().New(cfg.Name, genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, nil, fmt.Errorf("build API server: %w", err)
	}
	parameterCodec := runtime.NewParameterCodec(cfg.Scheme)
	for _, g := range cfg.Groups {
		info := genericapiserver.NewDefaultAPIGroupInfo(g.Name, cfg.Scheme, parameterCodec, codecs)
		if cfg.JSONOnly {
			info.NegotiatedSerializer = jsonOnly{info.NegotiatedSerializer}
		}
		info.VersionedResourcesStorageMap[Version] = g.Resources
		if err := srv.InstallAPIGroup(&info); err != nil {
			return nil, nil, fmt.Errorf("install %s: %w", g.Name, err)
		}
	}
	var requestHeaderCA dynamiccertificates.CAContentProvider
	if rh := rc.Authentication.RequestHeaderConfig; rh != nil {
		requestHeaderCA = rh.CAContentProvider
	}
	return srv, requestHeaderCA, nil
}
