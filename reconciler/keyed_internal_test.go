package reconciler

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"
)

// The retry timers of AddAfter do not outlive Run: stopped when it returns, none armed after.
func TestKeyedAddAfterTimersEndWithRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		passes := 0
		k := NewKeyed(func(context.Context, string) { passes++ },
			KeyedOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- k.Run(ctx) }()
		k.AddAfter("soon", time.Second)
		k.AddAfter("backoff", 5*time.Minute)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if passes != 1 {
			t.Fatalf("%d passes, want the one for soon", passes)
		}
		cancel()
		<-done
		k.AddAfter("late", time.Minute)
		k.mu.Lock()
		pending := len(k.timers)
		k.mu.Unlock()
		if pending != 0 {
			t.Fatalf("%d AddAfter timers pending after Run returned", pending)
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		k.mu.Lock()
		defer k.mu.Unlock()
		if len(k.queue) != 0 {
			t.Fatalf("timers fired after Run returned: queue %v", k.queue)
		}
	})
}
