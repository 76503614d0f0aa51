// SPDX-License-Identifier: Apache-2.0

package sessionapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sessionapis "github.com/selkie-dev/selkie/pkg/apis/supervisor/session"
)

func TestConvertToTable(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false, nil)
	list, err := f.rest.List(requestContext(ns), &metainternalversion.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// One session has expired by the fixture's clock (an hour after the first login).
	expired := list.(*sessionapis.SupervisorSessionList).Items[0].DeepCopy()
	expired.Name = "expired"
	expired.Status.Expires = metav1.NewTime(authTime.Add(30 * time.Minute))
	items := list.(*sessionapis.SupervisorSessionList)
	items.Items = append(items.Items, *expired)

	table, err := f.rest.ConvertToTable(context.Background(), items, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range table.ColumnDefinitions {
		names = append(names, c.Name)
	}
	if diff := cmp.Diff([]string{"Name", "Username", "IdP", "Client", "Age", "Expires"}, names); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	want := [][]any{
		{idAlice1, "alice@example.com", "dex", "pinniped-cli", "60m", "8h"},
		{idAlice2, "alice@example.com", "dex", "pinniped-cli", "59m", "8h"},
		{idBob, "bob@example.com", "dex", "pinniped-cli", "58m", "8h"},
		{"expired", "alice@example.com", "dex", "pinniped-cli", "60m", "Expired"},
	}
	var got [][]any
	for _, row := range table.Rows {
		got = append(got, row.Cells)
		if s, ok := row.Object.Object.(*sessionapis.SupervisorSession); !ok || s.Name != row.Cells[0] {
			t.Errorf("row %v carries object %v", row.Cells, row.Object.Object)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}

	one, err := f.rest.ConvertToTable(context.Background(), &items.Items[2], nil)
	if err != nil || len(one.Rows) != 1 || one.Rows[0].Cells[0] != idBob || one.ResourceVersion != items.Items[2].ResourceVersion {
		t.Errorf("table of one session: %+v, %v", one, err)
	}
	if _, err := f.rest.ConvertToTable(context.Background(), &metav1.Status{}, nil); err == nil {
		t.Error("a Status converted to a table of sessions")
	}
}
