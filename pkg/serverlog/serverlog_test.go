// SPDX-License-Identifier: Apache-2.0

package serverlog

import (
	"context"
	"log/slog"
	"testing"
)

func TestNew(t *testing.T) {
	l, err := New("warn")
	if err != nil || l.Enabled(context.Background(), slog.LevelInfo) || !l.Enabled(context.Background(), slog.LevelWarn) {
		t.Errorf("warn logger: %v", err)
	}
	if _, err := New("loud"); err == nil {
		t.Error("an unknown level was accepted")
	}
}
