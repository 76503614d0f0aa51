// SPDX-License-Identifier: Apache-2.0

package sessionapi

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	sessionapis "github.com/selkie-dev/selkie/pkg/apis/supervisor/session"
)

// tableColumns are the columns of `kubectl get supervisorsessions`.
func tableColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name", Description: "The session ID."},
		{Name: "Username", Type: "string", Description: "The downstream username."},
		{Name: "IdP", Type: "string", Description: "The display name of the upstream identity provider."},
		{Name: "Client", Type: "string", Description: "The downstream client ID."},
		{Name: "Age", Type: "string", Description: "Time since the user logged in."},
		{Name: "Expires", Type: "string", Description: "Time left until the session ends."},
	}
}

// ConvertToTable renders a SupervisorSession or a list of them for kubectl.
func (r *REST) ConvertToTable(_ context.Context, object runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{ColumnDefinitions: tableColumns()}
	var items []sessionapis.SupervisorSession
	switch o := object.(type) {
	case *sessionapis.SupervisorSession:
		table.ResourceVersion = o.ResourceVersion
		items = []sessionapis.SupervisorSession{*o}
	case *sessionapis.SupervisorSessionList:
		table.ResourceVersion, table.Continue = o.ResourceVersion, o.Continue
		items = o.Items
	default:
		return nil, fmt.Errorf("cannot show %T as a table of SupervisorSessions", object)
	}
	now := r.cfg.Clock()
	for i := range items {
		s := &items[i]
		table.Rows = append(table.Rows, metav1.TableRow{
			Cells: []any{s.Name, s.Status.Username, s.Status.IdentityProvider.DisplayName, s.Status.ClientID,
				age(s.CreationTimestamp, now), expiresIn(s.Status.Expires, now)},
			Object: runtime.RawExtension{Object: s},
		})
	}
	return table, nil
}

// age is kubectl's rendering of the time since t.
func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// expiresIn is the time left until t, or "Expired".
func expiresIn(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	if !now.Before(t.Time) {
		return "Expired"
	}
	return duration.HumanDuration(t.Sub(now))
}
