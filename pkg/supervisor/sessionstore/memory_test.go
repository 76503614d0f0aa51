// SPDX-License-Identifier: Apache-2.0

package sessionstore_test

import (
	"testing"

	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore/conformance"
)

func TestMemoryStore(t *testing.T) {
	t.Parallel()
	conformance.RunTests(t, func(*testing.T) sessionstore.Store { return sessionstore.NewMemoryStore() })
}

func TestMemoryStoreRejectsUnencodableClaims(t *testing.T) {
	t.Parallel()
	s := conformance.FullSession(conformance.ID("claims"))
	s.AdditionalClaims["bad"] = make(chan int)
	if err := sessionstore.NewMemoryStore().Create(t.Context(), s); err == nil {
		t.Fatal("Create with a channel in AdditionalClaims succeeded")
	}
}
