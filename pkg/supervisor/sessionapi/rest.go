// SPDX-License-Identifier: Apache-2.0

package sessionapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	sessionapis "github.com/selkie-dev/selkie/pkg/apis/supervisor/session"
	"github.com/selkie-dev/selkie/pkg/logfingerprint"
	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
)

const (
	// deleteAttempts bounds the re-reads of a session that changed (a refresh) between
	// the read and the delete of a request without a resourceVersion precondition.
	deleteAttempts = 3
	// revokeTimeout bounds the upstream revocation after a delete.
	revokeTimeout = 10 * time.Second
)

// Config configures NewREST.
type Config struct {
	// Store holds the sessions: the store the FederationDomains' providers use.
	Store sessionstore.Store
	// Namespace is the supervisor's namespace, the only one that has sessions.
	Namespace string
	// Group is the API group, session.supervisor.<suffix>.
	Group string
	// Revoke revokes a deleted session's upstream tokens, best effort (nil: never).
	Revoke func(ctx context.Context, s *sessionstore.Session) error
	// LogUserInfo puts the sessions' usernames in the audit lines; off, only their
	// keyed fingerprint.
	LogUserInfo bool
	// Fingerprint keys the usernames' fingerprints (nil: a random key).
	Fingerprint *logfingerprint.Key
	// Log receives one audit line per get, list and delete (discarded if nil).
	Log *slog.Logger
	// Clock is the clock of the table's Age and Expires columns (time.Now if nil).
	Clock func() time.Time
}

// REST is the SupervisorSession storage: get, list and delete; nothing can be created
// or changed.
type REST struct {
	cfg Config
	gr  schema.GroupResource
}

var _ interface {
	rest.Getter
	rest.Lister
	rest.GracefulDeleter
	rest.MayReturnFullObjectDeleter
	rest.Scoper
	rest.Storage
	rest.SingularNameProvider
	rest.ShortNamesProvider
	rest.CategoriesProvider
} = (*REST)(nil)

// NewREST returns the storage of SupervisorSessions over cfg.Store.
func NewREST(cfg Config) *REST {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Fingerprint == nil {
		cfg.Fingerprint = logfingerprint.Random()
	}
	return &REST{cfg: cfg, gr: schema.GroupResource{Group: cfg.Group, Resource: Resource}}
}

// New returns an empty SupervisorSession.
func (*REST) New() runtime.Object { return &sessionapis.SupervisorSession{} }

// NewList returns an empty SupervisorSessionList.
func (*REST) NewList() runtime.Object { return &sessionapis.SupervisorSessionList{} }

// Destroy releases nothing: the storage holds no resources.
func (*REST) Destroy() {}

// NamespaceScoped is true: sessions live in the supervisor's namespace.
func (*REST) NamespaceScoped() bool { return true }

// GetSingularName is the resource's singular name, for discovery.
func (*REST) GetSingularName() string { return "supervisorsession" }

// ShortNames are the resource's short names, for kubectl.
func (*REST) ShortNames() []string { return []string{"ssession", "ssessions"} }

// Categories puts the resource in `kubectl get selkie`.
func (*REST) Categories() []string { return []string{"selkie"} }

// DeleteReturnsDeletedObject is true: Delete returns the deleted session.
func (*REST) DeleteReturnsDeletedObject() bool { return true }

// Get returns the session named name, in the supervisor's namespace only.
func (r *REST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	if err := r.checkNamespace(ctx); err != nil {
		return nil, err
	}
	s, err := r.cfg.Store.Get(ctx, name)
	if err != nil {
		return nil, r.storeError(ctx, name, "could not read the session", err)
	}
	r.audit(ctx, "supervisor session read", slog.String("session", s.ID), r.userAttr(s.Username))
	return r.toObject(s), nil
}

// List returns the sessions that match the field selectors status.username and
// status.issuer. A list in another namespace is empty; across all namespaces it is
// the supervisor namespace's.
func (r *REST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	opts, err := listOptions(options)
	if err != nil {
		return nil, err
	}
	list := &sessionapis.SupervisorSessionList{}
	ids := []string{}
	if ns, _ := genericapirequest.NamespaceFrom(ctx); ns == "" || ns == r.cfg.Namespace {
		sessions, err := r.cfg.Store.List(ctx, opts)
		if err != nil {
			return nil, r.internal(ctx, "", "could not list the sessions", err)
		}
		slices.SortFunc(sessions, func(a, b *sessionstore.Session) int {
			return cmp.Or(a.AuthTime.Compare(b.AuthTime), cmp.Compare(a.ID, b.ID))
		})
		for _, s := range sessions {
			list.Items = append(list.Items, *r.toObject(s))
			ids = append(ids, s.ID)
		}
	}
	attrs := []any{slog.Int("count", len(ids)), slog.Any("sessions", ids)}
	if opts.Issuer != "" {
		attrs = append(attrs, slog.String("issuer", opts.Issuer))
	}
	if opts.Username != "" {
		attrs = append(attrs, r.userAttr(opts.Username))
	}
	r.audit(ctx, "supervisor sessions listed", attrs...)
	return list, nil
}

// Delete revokes the session named name: it deletes the session from the store, so
// that its refresh tokens stop working, and then revokes its upstream tokens (best
// effort; a failure is logged, the session is gone either way).
func (r *REST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	if err := r.checkNamespace(ctx); err != nil {
		return nil, false, err
	}
	if options == nil {
		options = &metav1.DeleteOptions{}
	}
	s, obj, err := r.deleteFromStore(ctx, name, deleteValidation, options)
	if err != nil {
		return nil, false, err
	}
	if len(options.DryRun) > 0 {
		return obj, true, nil
	}
	attrs := []any{slog.String("session", s.ID), r.userAttr(s.Username), slog.String("issuer", s.Issuer),
		slog.String("client", s.ClientID), slog.String("idp", s.IdP.DisplayName)}
	if r.cfg.Revoke != nil {
		// The caller going away must not leave the upstream tokens alive.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revokeTimeout)
		err := r.cfg.Revoke(rctx, s)
		cancel()
		if err != nil {
			attrs = append(attrs, slog.String("upstreamRevokeError", err.Error()))
		}
	}
	r.audit(ctx, "supervisor session deleted", attrs...)
	return obj, true, nil
}

// deleteFromStore deletes the session at the resourceVersion it read, so that the
// upstream data it returns (for revocation) is the data of the deleted session: a
// refresh in between may have rotated the upstream tokens. A request without a
// resourceVersion precondition reads again when that happens; one with it gets a 409.
// On a dry run it deletes nothing.
func (r *REST) deleteFromStore(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (*sessionstore.Session, *sessionapis.SupervisorSession, error) {
	for attempt := 1; ; attempt++ {
		s, err := r.cfg.Store.Get(ctx, name)
		if err != nil {
			return nil, nil, r.storeError(ctx, name, "could not read the session", err)
		}
		obj := r.toObject(s)
		if err := r.checkPreconditions(obj, options.Preconditions); err != nil {
			return nil, nil, err
		}
		if deleteValidation != nil {
			if err := deleteValidation(ctx, obj.DeepCopyObject()); err != nil {
				return nil, nil, err
			}
		}
		if len(options.DryRun) > 0 {
			return s, obj, nil
		}
		err = r.cfg.Store.Delete(ctx, name, s.ResourceVersion)
		if err == nil {
			return s, obj, nil
		}
		retry := errors.Is(err, sessionstore.ErrConflict) && attempt < deleteAttempts &&
			(options.Preconditions == nil || options.Preconditions.ResourceVersion == nil)
		if !retry {
			return nil, nil, r.storeError(ctx, name, "could not delete the session", err)
		}
	}
}

func (r *REST) checkPreconditions(obj *sessionapis.SupervisorSession, p *metav1.Preconditions) error {
	if p == nil {
		return nil
	}
	if p.UID != nil && *p.UID != obj.UID {
		return apierrors.NewConflict(r.gr, obj.Name, fmt.Errorf("precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, obj.UID))
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != obj.ResourceVersion {
		return apierrors.NewConflict(r.gr, obj.Name, fmt.Errorf("precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v",
			*p.ResourceVersion, obj.ResourceVersion))
	}
	return nil
}

// checkNamespace refuses a get or delete outside the supervisor's namespace with a 400
// that names the right one.
func (r *REST) checkNamespace(ctx context.Context) error {
	if ns, _ := genericapirequest.NamespaceFrom(ctx); ns != r.cfg.Namespace {
		return apierrors.NewBadRequest(fmt.Sprintf("namespace must be %s on SupervisorSession, was %s", r.cfg.Namespace, ns))
	}
	return nil
}

// storeError maps the store's errors: ErrNotFound is a 404, ErrConflict a 409 and the
// rest a 500 that does not repeat it.
func (r *REST) storeError(ctx context.Context, name, msg string, err error) error {
	switch {
	case errors.Is(err, sessionstore.ErrNotFound):
		return apierrors.NewNotFound(r.gr, name)
	case errors.Is(err, sessionstore.ErrConflict):
		return apierrors.NewConflict(r.gr, name, errors.New("the session changed meanwhile; try again"))
	}
	return r.internal(ctx, name, msg, err)
}

// internal logs err and returns a 500 that does not repeat it.
func (r *REST) internal(ctx context.Context, name, msg string, err error) error {
	r.cfg.Log.ErrorContext(ctx, msg, "session", name, "namespace", r.cfg.Namespace, "error", err)
	return apierrors.NewInternalError(errors.New(msg))
}

// toObject is the API view of s: no tokens, hashes or upstream data.
func (r *REST) toObject(s *sessionstore.Session) *sessionapis.SupervisorSession {
	return &sessionapis.SupervisorSession{
		ObjectMeta: metav1.ObjectMeta{Name: s.ID, Namespace: r.cfg.Namespace, ResourceVersion: s.ResourceVersion,
			CreationTimestamp: metav1.NewTime(s.AuthTime)},
		Status: sessionapis.SupervisorSessionStatus{
			Issuer: s.Issuer, ClientID: s.ClientID, Username: s.Username, Groups: slices.Clone(s.Groups), Subject: s.Subject,
			IdentityProvider: sessionapis.SupervisorSessionIdentityProvider{DisplayName: s.IdP.DisplayName, Type: s.IdP.Type,
				Kind: s.IdP.Kind, Name: s.IdP.Name},
			GrantedScopes: slices.Clone(s.GrantedScopes),
			AuthTime:      metav1.NewTime(s.AuthTime), Expires: metav1.NewTime(s.Expires),
		},
	}
}
