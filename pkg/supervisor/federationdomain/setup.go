// SPDX-License-Identifier: Apache-2.0

package federationdomain

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
)

// SetupWithManager reconciles on any change to FederationDomains, Secrets and identity
// providers in the namespace, and whenever the provider registry changes. Every event
// maps to one request, since all domains are reconciled together. Session Secrets never
// reach it: the manager's cache leaves them out (pkg/supervisor cacheOptions).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	all := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		if o.GetNamespace() != r.Namespace {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: r.Namespace, Name: "all"}}}
	})
	events := make(chan event.GenericEvent)
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		marker := &corev1.ConfigMap{}
		marker.Namespace = r.Namespace
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-r.Registry.Changed():
				select {
				case events <- event.GenericEvent{Object: marker}:
				case <-ctx.Done():
					return nil
				}
			}
		}
	})); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("federationdomain").
		Watches(&configv1alpha1.FederationDomain{}, all).
		Watches(&corev1.Secret{}, all).
		Watches(&idpv1alpha1.OIDCIdentityProvider{}, all).
		Watches(&idpv1alpha1.LDAPIdentityProvider{}, all).
		Watches(&idpv1alpha1.ActiveDirectoryIdentityProvider{}, all).
		Watches(&idpv1alpha1.GitHubIdentityProvider{}, all).
		WatchesRawSource(source.Channel(events, all)).
		Complete(r)
}
