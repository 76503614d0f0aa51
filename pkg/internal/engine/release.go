// SPDX-License-Identifier: Apache-2.0

package engine

import "reflect"

// Release closes old, a value a Store dropped or replaced by replacement (nil when
// dropped), when old has a Close method and is not replacement itself. Stores call it
// outside their lock: a request that got old just before finishes with it.
func Release(old, replacement any) {
	c, ok := old.(interface{ Close() })
	if !ok || same(old, replacement) {
		return
	}
	c.Close()
}

// same reports whether a and b are the same value, without panicking on values of a
// type that cannot be compared.
func same(a, b any) bool {
	t := reflect.TypeOf(a)
	if t == nil || t != reflect.TypeOf(b) || !t.Comparable() {
		return false
	}
	defer func() { _ = recover() }() // a comparable struct may hold an incomparable interface value
	return a == b
}
