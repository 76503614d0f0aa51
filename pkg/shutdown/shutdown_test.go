// SPDX-License-Identifier: Apache-2.0

package shutdown

import (
	"context"
	"log/slog"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name  string
		delay time.Duration
		// steps run after wait started; each returns whether wait must still be waiting
		// after it.
		steps []func(signals chan os.Signal, timer chan time.Time, cancel context.CancelFunc) bool
	}{
		{name: "no delay: the first signal ends it", steps: []func(chan os.Signal, chan time.Time, context.CancelFunc) bool{
			func(s chan os.Signal, _ chan time.Time, _ context.CancelFunc) bool {
				s <- syscall.SIGTERM
				return false
			},
		}},
		{name: "delay: serves on until the timer fires", delay: 5 * time.Second, steps: []func(chan os.Signal, chan time.Time, context.CancelFunc) bool{
			func(s chan os.Signal, _ chan time.Time, _ context.CancelFunc) bool { s <- syscall.SIGTERM; return true },
			func(_ chan os.Signal, tm chan time.Time, _ context.CancelFunc) bool { tm <- time.Time{}; return false },
		}},
		{name: "delay: a second signal ends it at once", delay: time.Hour, steps: []func(chan os.Signal, chan time.Time, context.CancelFunc) bool{
			func(s chan os.Signal, _ chan time.Time, _ context.CancelFunc) bool { s <- syscall.SIGTERM; return true },
			func(s chan os.Signal, _ chan time.Time, _ context.CancelFunc) bool { s <- os.Interrupt; return false },
		}},
		{name: "the parent ending ends it", delay: time.Hour, steps: []func(chan os.Signal, chan time.Time, context.CancelFunc) bool{
			func(_ chan os.Signal, _ chan time.Time, c context.CancelFunc) bool { c(); return false },
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			signals, timer := make(chan os.Signal), make(chan time.Time)
			var asked time.Duration
			done := make(chan struct{})
			go func() {
				defer close(done)
				wait(ctx, signals, tc.delay, log, func(d time.Duration) <-chan time.Time { asked = d; return timer })
			}()
			for i, step := range tc.steps {
				waiting := step(signals, timer, cancel)
				select {
				case <-done:
					if waiting {
						t.Fatalf("step %d: wait returned, want it still waiting", i)
					}
				case <-time.After(50 * time.Millisecond):
					if !waiting {
						<-done // a deadlock here fails the test by its timeout
					}
				}
			}
			<-done
			if tc.delay > 0 && len(tc.steps) > 1 && asked != tc.delay {
				t.Errorf("timer set for %s, want %s", asked, tc.delay)
			}
		})
	}
}
