// SPDX-License-Identifier: Apache-2.0

package kubeconfig

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	loginv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/login/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/apis/suffix"
)

// authenticatorRef is the chosen authenticator; jwt is set for a JWTAuthenticator.
type authenticatorRef struct {
	typ, name string
	jwt       *authenticationv1alpha1.JWTAuthenticator
}

// authenticatorKinds maps --concierge-authenticator-type to resources.
func authenticatorKinds() []struct{ typ, resource string } {
	return []struct{ typ, resource string }{{"jwt", "jwtauthenticators"}, {"webhook", "webhookauthenticators"}}
}

// authenticator returns the authenticator named by typ and name, or the only one
// matching those given (docs/wire-contract.md §3.1: exactly one must exist otherwise).
func (d *discoverer) authenticator(ctx context.Context, typ, name string) (*authenticatorRef, error) {
	var found []*unstructured.Unstructured
	var foundTypes, all []string
	for _, k := range authenticatorKinds() {
		if typ != "" && typ != k.typ {
			continue
		}
		res := d.client.Resource(d.resource(authenticationv1alpha1.GroupName, k.resource))
		if typ != "" && name != "" {
			u, err := res.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return nil, fmt.Errorf("could not get the %s authenticator %q: %w", typ, name, err)
			}
			return d.toAuthenticatorRef(typ, u)
		}
		list, err := res.List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("could not list %s (is the concierge installed with --concierge-api-group-suffix %q?): %w", k.resource, d.suffix, err)
		}
		for i := range list.Items {
			all = append(all, k.typ+"/"+list.Items[i].GetName())
			if name == "" || list.Items[i].GetName() == name {
				found, foundTypes = append(found, &list.Items[i]), append(foundTypes, k.typ)
			}
		}
	}
	sort.Strings(all)
	switch {
	case len(found) == 1:
		return d.toAuthenticatorRef(foundTypes[0], found[0])
	case len(all) == 0:
		return nil, fmt.Errorf("no JWTAuthenticator or WebhookAuthenticator was found in the cluster (suffix %q): create one, or use --no-concierge", d.suffix)
	case len(found) == 0:
		return nil, fmt.Errorf("no authenticator matches --concierge-authenticator-type=%q --concierge-authenticator-name=%q; found: %s",
			typ, name, strings.Join(all, ", "))
	default:
		return nil, fmt.Errorf("several authenticators were found (%s): choose one with --concierge-authenticator-type and --concierge-authenticator-name",
			strings.Join(all, ", "))
	}
}

func (d *discoverer) toAuthenticatorRef(typ string, u *unstructured.Unstructured) (*authenticatorRef, error) {
	ref := &authenticatorRef{typ: typ, name: u.GetName()}
	d.log.Info("discovered authenticator", "type", typ, "name", ref.name)
	if typ != "jwt" {
		return ref, nil
	}
	ref.jwt = &authenticationv1alpha1.JWTAuthenticator{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, ref.jwt); err != nil {
		return nil, fmt.Errorf("could not decode JWTAuthenticator %q: %w", ref.name, err)
	}
	return ref, nil
}

// applyJWTAuthenticator fills the OIDC settings not given as flags from the
// JWTAuthenticator: the issuer, the audience and the CA bundle of the issuer.
func (d *discoverer) applyJWTAuthenticator(ctx context.Context, ja *authenticationv1alpha1.JWTAuthenticator, o *oidcFlags) error {
	if o.issuer == "" {
		o.issuer = ja.Spec.Issuer
		d.log.Info("discovered OIDC issuer", "issuer", o.issuer)
	}
	if o.requestAudience == "" {
		if err := checkAudience(ja.Spec.Audience); err != nil {
			return fmt.Errorf("JWTAuthenticator %q: %w", ja.Name, err)
		}
		o.requestAudience = ja.Spec.Audience
		d.log.Info("discovered OIDC request audience", "audience", o.requestAudience)
	}
	if len(o.caBundleData) > 0 || ja.Spec.TLS == nil {
		return nil
	}
	var ca []byte
	switch tls := ja.Spec.TLS; {
	case tls.CertificateAuthorityData != "":
		var err error
		if ca, err = base64.StdEncoding.DecodeString(tls.CertificateAuthorityData); err != nil {
			return fmt.Errorf("JWTAuthenticator %q has an invalid spec.tls.certificateAuthorityData: %w", ja.Name, err)
		}
	case tls.CertificateAuthorityDataSource != nil:
		var err error
		if ca, err = d.caFromSource(ctx, ja.Name, tls.CertificateAuthorityDataSource); err != nil {
			return err
		}
	default:
		return nil
	}
	if countCerts(ca) == 0 {
		return fmt.Errorf("the CA bundle of JWTAuthenticator %q holds no PEM certificate", ja.Name)
	}
	o.caBundleData = ca
	d.log.Info("discovered OIDC CA bundle", "roots", countCerts(ca))
	return nil
}

// caFromSource reads a certificateAuthorityDataSource: a Secret or ConfigMap in the
// concierge's namespace, which the login APIService names (docs/wire-contract.md §1.12).
func (d *discoverer) caFromSource(ctx context.Context, jaName string, src *authenticationv1alpha1.CertificateAuthorityDataSourceSpec) ([]byte, error) {
	namespace, err := d.conciergeNamespace(ctx)
	if err != nil {
		return nil, fmt.Errorf("JWTAuthenticator %q reads its CA from a %s: %w", jaName, src.Kind, err)
	}
	var resource string
	switch src.Kind {
	case authenticationv1alpha1.CertificateAuthorityDataSourceKindSecret:
		resource = "secrets"
	case authenticationv1alpha1.CertificateAuthorityDataSourceKindConfigMap:
		resource = "configmaps"
	default:
		return nil, fmt.Errorf("JWTAuthenticator %q: unknown certificateAuthorityDataSource kind %q", jaName, src.Kind)
	}
	u, err := d.client.Resource(schema.GroupVersionResource{Version: "v1", Resource: resource}).Namespace(namespace).Get(ctx, src.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("could not read the CA of JWTAuthenticator %q from %s %s/%s: %w", jaName, src.Kind, namespace, src.Name, err)
	}
	var value string
	var found bool
	if src.Kind == authenticationv1alpha1.CertificateAuthorityDataSourceKindConfigMap {
		value, found, _ = unstructured.NestedString(u.Object, "data", src.Key)
	} else {
		if typ, _, _ := unstructured.NestedString(u.Object, "type"); typ != "kubernetes.io/tls" && typ != "Opaque" {
			return nil, fmt.Errorf("the CA Secret %s/%s of JWTAuthenticator %q has type %q, want kubernetes.io/tls or Opaque", namespace, src.Name, jaName, typ)
		}
		var encoded string
		if encoded, found, _ = unstructured.NestedString(u.Object, "data", src.Key); found {
			b, err := base64.StdEncoding.DecodeString(encoded)
			if err != nil {
				return nil, fmt.Errorf("the CA Secret %s/%s key %q is not base64: %w", namespace, src.Name, src.Key, err)
			}
			value = string(b)
		}
	}
	if !found || value == "" {
		return nil, fmt.Errorf("%s %s/%s has no key %q for the CA of JWTAuthenticator %q", src.Kind, namespace, src.Name, src.Key, jaName)
	}
	return []byte(value), nil
}

// conciergeNamespace is spec.service.namespace of the login APIService.
func (d *discoverer) conciergeNamespace(ctx context.Context) (string, error) {
	name := "v1alpha1." + suffix.Group(loginv1alpha1.GroupName, d.suffix)
	u, err := d.client.Resource(schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}).
		Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("could not find the concierge namespace from APIService %s: %w", name, err)
	}
	namespace, _, _ := unstructured.NestedString(u.Object, "spec", "service", "namespace")
	if namespace == "" {
		return "", fmt.Errorf("APIService %s has no spec.service.namespace", name)
	}
	return namespace, nil
}
