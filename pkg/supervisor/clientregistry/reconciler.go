// SPDX-License-Identifier: Apache-2.0

package clientregistry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/internal/engine"
)

// Reconciler writes the status of the OIDCClients of one namespace: the conditions
// AllowedGrantTypesValid, AllowedScopesValid and ClientSecretExists, the phase and
// status.totalClientSecrets.
type Reconciler struct {
	// Client reads OIDCClients (through the manager's cache) and writes their status.
	Client client.Client
	// Secrets reads the stored hashes; its Client may be the same cached client.
	Secrets   *SecretStore
	Namespace string
	Log       *slog.Logger
}

// SetupWithManager reconciles an OIDCClient when it changes and when its Secret of
// hashes does. The manager's cache should be limited to Namespace.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	inNamespace := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetNamespace() == r.Namespace })
	return ctrl.NewControllerManagedBy(mgr).
		Named("oidcclient").
		For(&configv1alpha1.OIDCClient{}, builder.WithPredicates(inNamespace)).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(ownerRequests), builder.WithPredicates(inNamespace)).
		Complete(r)
}

// ownerRequests maps a Secret of hashes to the OIDCClient that owns it.
func ownerRequests(_ context.Context, o client.Object) []reconcile.Request {
	secret, ok := o.(*corev1.Secret)
	if !ok || secret.Type != SecretType {
		return nil
	}
	var reqs []reconcile.Request
	for _, ref := range secret.OwnerReferences {
		if ref.Kind == kindOIDCClient {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: secret.Namespace, Name: ref.Name}})
		}
	}
	return reqs
}

// Reconcile evaluates one OIDCClient and writes its status when it changed.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if req.Namespace != r.Namespace {
		return ctrl.Result{}, nil
	}
	var oc configv1alpha1.OIDCClient
	if err := r.Client.Get(ctx, req.NamespacedName, &oc); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil // its Secret goes with it (owner reference)
		}
		return ctrl.Result{}, fmt.Errorf("get OIDCClient %s: %w", req.Name, err)
	}
	if oc.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	var list []string
	hashes, err := r.Secrets.Get(ctx, &oc)
	switch {
	case errors.Is(err, ErrUnreadable): // reported in the condition; nothing to retry
	case err != nil:
		return ctrl.Result{}, err
	default:
		list = hashes.List
	}
	v := evaluate(&oc.Spec, list, err)
	if err := r.updateStatus(ctx, &oc, v); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}

// updateStatus writes v into oc's status unless it is there already. Conditions keep
// their LastTransitionTime while their status does not change.
func (r *Reconciler) updateStatus(ctx context.Context, oc *configv1alpha1.OIDCClient, v verdict) error {
	updated := oc.DeepCopy()
	updated.Status.Phase = configv1alpha1.OIDCClientPhaseError
	if v.ready {
		updated.Status.Phase = configv1alpha1.OIDCClientPhaseReady
	}
	updated.Status.TotalClientSecrets = v.total
	engine.SetConditions(&updated.Status.Conditions, v.conditions, oc.Generation, time.Now())
	wrote, err := engine.WriteStatus(ctx, r.Client, "OIDCClient", oc, updated,
		func(oc *configv1alpha1.OIDCClient) any { return oc.Status })
	if !wrote {
		return err
	}
	r.logger().InfoContext(ctx, "OIDCClient status updated", "client", oc.Name, "namespace", oc.Namespace,
		"phase", updated.Status.Phase, "totalClientSecrets", v.total)
	return nil
}

func (r *Reconciler) logger() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}
