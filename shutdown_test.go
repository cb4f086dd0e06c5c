package skerry_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/skerry-dev/skerry"
	"github.com/skerry-dev/skerry/hooks"
	rfake "github.com/skerry-dev/skerry/runtime/fake"
)

// Every test here runs in a synctest bubble: a goroutine left behind by Run fails it.
func TestShutdownIsBounded(t *testing.T) {
	t.Run("a pass stuck in a runtime call is cancelled after the grace", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			n := newNode(t, skerry.Options{ShutdownTimeout: 8 * time.Second}, demoApps()...)
			n.rt.Hang(rfake.OpStart, true) // honours its context only
			stop := n.start(t)
			time.Sleep(time.Minute)
			synctest.Wait()
			err, took := stop()
			if !errors.Is(err, context.Canceled) || took != 4*time.Second {
				t.Fatalf("Run returned %v after %v, want context.Canceled after the 4 s grace", err, took)
			}
			reps := n.taken()
			if len(reps) != 1 || !reps[0].Interrupted || reps[0].Converged() {
				t.Fatalf("reports %v, want one interrupted pass, not converged", reps)
			}
		})
	})
	t.Run("work that ignores its context: Run returns at the bound anyway", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			apps := demoApps()
			apps[0].Hooks = []hooks.Hook{hooks.Func(func(context.Context) (bool, error) {
				<-release // ignores ctx
				return false, nil
			})}
			n := newNode(t, skerry.Options{ShutdownTimeout: 8 * time.Second}, apps...)
			stop := n.start(t)
			synctest.Wait()
			err, took := stop()
			if !errors.Is(err, skerry.ErrShutdownTimeout) || took != 8*time.Second {
				t.Fatalf("Run returned %v after %v, want ErrShutdownTimeout after 8 s", err, took)
			}
			// The timed-out Run's passes still run: another Run would run a second loop.
			again, cancelAgain := context.WithTimeout(t.Context(), time.Hour)
			defer cancelAgain()
			if err := n.sup.Run(again); !errors.Is(err, skerry.ErrRunning) {
				t.Fatalf("Run while the last one's work is in flight = %v, want ErrRunning", err)
			}
			close(release) // let the bubble's goroutines end
			synctest.Wait()
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if err := n.sup.Run(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("Run once that work ended = %v, want context.Canceled", err)
			}
			for _, r := range n.taken() {
				if r.Converged() {
					t.Fatalf("a pass cut short reported converged: %v", r)
				}
			}
		})
	})
	t.Run("idle: at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			n := newNode(t, skerry.Options{}, demoApps()...)
			stop := n.start(t)
			time.Sleep(time.Minute)
			synctest.Wait()
			if err, took := stop(); !errors.Is(err, context.Canceled) || took != 0 {
				t.Fatalf("Run returned %v after %v, want at once", err, took)
			}
		})
	})
}
