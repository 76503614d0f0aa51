// SPDX-License-Identifier: Apache-2.0

package upstream

import "testing"

// closingProvider is a Provider whose Close is counted.
type closingProvider struct {
	Provider
	closed int
}

func (p *closingProvider) Close() { p.closed++ }

func TestRegistryClosesWhatItDrops(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	key := Key{Kind: KindLDAP, Name: "corp"}
	one, two := &closingProvider{}, &closingProvider{}
	r.Set(key, one)
	r.Set(key, one)
	if one.closed != 0 {
		t.Fatal("storing the same provider again closed it")
	}
	r.Set(key, two)
	if one.closed != 1 || two.closed != 0 {
		t.Errorf("replacing closed one %d and two %d times; want 1 and 0", one.closed, two.closed)
	}
	r.Delete(key)
	r.Delete(key)
	if two.closed != 1 {
		t.Errorf("deleting twice closed two %d times, want 1", two.closed)
	}
	if _, ok := r.Get(key); ok {
		t.Error("deleted provider still registered")
	}
	select {
	case <-r.Changed():
	default:
		t.Error("no change notified")
	}
	r.Delete(key) // absent: the engine deletes on every failing reconcile
	select {
	case <-r.Changed():
		t.Error("deleting an absent key notified a change")
	default:
	}
}
