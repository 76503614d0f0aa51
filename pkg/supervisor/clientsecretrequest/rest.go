// SPDX-License-Identifier: Apache-2.0

package clientsecretrequest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"golang.org/x/crypto/bcrypt"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/audit"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/selkie-dev/selkie/pkg/apis/supervisor/clientsecret"
	clientsecretv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/clientsecret/v1alpha1"
	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/clientregistry"
)

// secretBytes is the entropy of a generated client secret.
const secretBytes = 32

// REST is the OIDCClientSecretRequest storage: create only, nothing of the request is
// stored but the hashes it changes.
type REST struct {
	clients   client.Reader
	secrets   *clientregistry.SecretStore
	namespace string
	gr        schema.GroupResource
	rand      io.Reader
	log       *slog.Logger
}

var _ interface {
	rest.Creater
	rest.Scoper
	rest.Storage
	rest.SingularNameProvider
} = (*REST)(nil)

// NewREST returns the storage for the group resource gr. clients reads OIDCClients and
// secrets the hashes; both should read from the API server, not a cache: a request
// right after creating an OIDCClient must find it, and the read-modify-write of the
// hashes relies on optimistic concurrency. Requests are served in namespace only.
func NewREST(clients client.Reader, secrets *clientregistry.SecretStore, namespace string, gr schema.GroupResource, log *slog.Logger) *REST {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &REST{clients: clients, secrets: secrets, namespace: namespace, gr: gr, rand: rand.Reader, log: log}
}

// New returns an empty OIDCClientSecretRequest.
func (*REST) New() runtime.Object { return &clientsecret.OIDCClientSecretRequest{} }

// Destroy releases nothing: the storage holds no resources.
func (*REST) Destroy() {}

// NamespaceScoped is true: requests live in the supervisor's namespace.
func (*REST) NamespaceScoped() bool { return true }

// GetSingularName is the resource's singular name, for discovery.
func (*REST) GetSingularName() string { return "oidcclientsecretrequest" }

// Create generates and revokes the secrets of the OIDCClient named like the request
// (docs/wire-contract.md §1.11) and returns a generated secret, the only time it is shown.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	req, err := r.validate(ctx, obj, createValidation, options)
	if err != nil {
		return nil, err
	}
	var oc configv1alpha1.OIDCClient
	if err := r.clients.Get(ctx, client.ObjectKey{Namespace: r.namespace, Name: req.Name}, &oc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, r.invalid(req.Name, field.NotFound(field.NewPath("metadata", "name"), req.Name))
		}
		return nil, r.internal(ctx, req.Name, "could not read the OIDCClient", err)
	}
	stored, err := r.secrets.Get(ctx, &oc)
	if err != nil {
		return nil, r.internal(ctx, req.Name, "could not read the client secrets", err)
	}
	list := slices.Clone(stored.List)
	var secret string
	if req.Spec.GenerateNewSecret {
		if !req.Spec.RevokeOldSecrets && len(list) >= clientsecretv1alpha1.MaxClientSecrets {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("OIDCClient %s has too many secrets, spec.revokeOldSecrets must be true", oc.Name))
		}
		var hash string
		if secret, hash, err = r.generate(); err != nil {
			return nil, r.internal(ctx, req.Name, "could not generate a client secret", err)
		}
		list = append([]string{hash}, list...)
	}
	if req.Spec.RevokeOldSecrets && len(list) > 1 {
		list = list[:1]
	}
	if !slices.Equal(list, stored.List) {
		if err := r.secrets.Set(ctx, &oc, stored, list); err != nil {
			if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
				return nil, apierrors.NewConflict(r.gr, req.Name, fmt.Errorf("the secrets of OIDCClient %s changed meanwhile; try again", oc.Name))
			}
			return nil, r.internal(ctx, req.Name, "could not store the client secrets", err)
		}
	}
	generated := 0
	if secret != "" {
		generated = 1
	}
	// Never the secret itself: it is shown once, to the caller.
	r.log.InfoContext(ctx, "oidc client secret request", "client", oc.Name, "namespace", r.namespace,
		"auditID", string(audit.GetAuditIDTruncated(ctx)), "generatedSecrets", generated,
		"revokedSecrets", len(stored.List)+generated-len(list), "totalClientSecrets", len(list))
	return &clientsecret.OIDCClientSecretRequest{
		ObjectMeta: metav1.ObjectMeta{Name: req.Name, Namespace: r.namespace, CreationTimestamp: metav1.NewTime(time.Now().UTC())},
		Spec:       req.Spec,
		Status:     clientsecret.OIDCClientSecretRequestStatus{GeneratedSecret: secret, TotalClientSecrets: int32(len(list))}, //nolint:gosec // G115: at most five hashes are kept.
	}, nil
}

func (r *REST) validate(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (*clientsecret.OIDCClientSecretRequest, error) {
	req, ok := obj.(*clientsecret.OIDCClientSecretRequest)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not an OIDCClientSecretRequest: %T", obj))
	}
	if ns, _ := genericapirequest.NamespaceFrom(ctx); ns != r.namespace {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("namespace must be %s on OIDCClientSecretRequest, was %s", r.namespace, ns))
	}
	if options != nil && len(options.DryRun) > 0 {
		return nil, r.invalid(req.Name, field.Invalid(field.NewPath("dryRun"), options.DryRun, "dryRun not supported"))
	}
	if !clientregistry.ValidName(req.Name) {
		return nil, r.invalid(req.Name, field.Invalid(field.NewPath("metadata", "name"), req.Name,
			fmt.Sprintf("must be the name of an OIDCClient: %s followed by at least one character", configv1alpha1.OIDCClientNamePrefix)))
	}
	if createValidation != nil {
		if err := createValidation(ctx, req.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// generate returns a new secret, 32 random bytes as lowercase hex, and its bcrypt hash.
func (r *REST) generate() (secret, hash string, err error) {
	b := make([]byte, secretBytes)
	if _, err := io.ReadFull(r.rand, b); err != nil {
		return "", "", err
	}
	secret = hex.EncodeToString(b)
	h, err := bcrypt.GenerateFromPassword([]byte(secret), clientregistry.BcryptCost)
	if err != nil {
		return "", "", err
	}
	return secret, string(h), nil
}

func (r *REST) invalid(name string, errs ...*field.Error) error {
	return apierrors.NewInvalid(schema.GroupKind{Group: r.gr.Group, Kind: "OIDCClientSecretRequest"}, name, errs)
}

// internal logs err and returns a 500 that does not repeat it.
func (r *REST) internal(ctx context.Context, name, msg string, err error) error {
	r.log.ErrorContext(ctx, msg, "client", name, "namespace", r.namespace, "error", err)
	return apierrors.NewInternalError(fmt.Errorf("%s", msg))
}
