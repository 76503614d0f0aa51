// SPDX-License-Identifier: Apache-2.0

package session_test

import (
	"testing"

	"github.com/selkie-dev/selkie/pkg/supervisor/session"
	"github.com/selkie-dev/selkie/pkg/supervisor/session/conformance"
)

func TestMemoryStore(t *testing.T) {
	t.Parallel()
	conformance.RunTests(t, func(*testing.T) session.Store { return session.NewMemoryStore() })
}

func TestMemoryStoreRejectsUnencodableClaims(t *testing.T) {
	t.Parallel()
	s := conformance.FullSession(conformance.ID("claims"))
	s.AdditionalClaims["bad"] = make(chan int)
	if err := session.NewMemoryStore().Create(t.Context(), s); err == nil {
		t.Fatal("Create with a channel in AdditionalClaims succeeded")
	}
}
