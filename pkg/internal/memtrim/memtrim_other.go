// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package memtrim

import "errors"

// Trim is Linux-only.
func Trim() (int64, error) { return 0, errors.New("only on Linux") }
