// SPDX-License-Identifier: Apache-2.0

package engine

import "testing"

type closer struct{ closed int }

func (c *closer) Close() { c.closed++ }

// incomparable has a Close method but cannot be compared with ==.
type incomparable struct {
	tags []string
	c    *closer
}

func (i incomparable) Close() { i.c.Close() }

func TestRelease(t *testing.T) {
	t.Parallel()
	a, b := &closer{}, &closer{}
	Release(a, b)
	if a.closed != 1 || b.closed != 0 {
		t.Errorf("replacing a by b closed a %d, b %d times; want 1, 0", a.closed, b.closed)
	}
	Release(b, b)
	if b.closed != 0 {
		t.Error("storing a value again closed it")
	}
	Release(b, nil)
	if b.closed != 1 {
		t.Error("dropping a value did not close it")
	}
	Release("no Close method", nil) // nothing to do, and no panic

	c := &closer{}
	Release(incomparable{tags: []string{"x"}, c: c}, incomparable{tags: []string{"x"}, c: c})
	if c.closed != 1 {
		t.Errorf("replacing an incomparable value closed it %d times, want 1", c.closed)
	}
}
