package reconciler_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/skerry-dev/skerry/reconciler"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// recorder is a pass that records when it ran and can be made to fail, panic or block.
type recorder struct {
	mu    sync.Mutex
	start time.Time
	runs  []time.Duration
	fail  map[int]string // run index -> "error" | "panic"
	block chan struct{}  // when set, a pass waits on it
}

func (r *recorder) pass(ctx context.Context) (int, error) {
	r.mu.Lock()
	n := len(r.runs)
	r.runs = append(r.runs, time.Since(r.start))
	mode, block := r.fail[n], r.block
	r.mu.Unlock()
	if block != nil {
		<-block
	}
	switch mode {
	case "error":
		return n, errors.New("pass failed")
	case "panic":
		panic("pass panicked")
	}
	return n, nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.runs)
}

func TestFirstPassAtOnceThenEveryInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{start: time.Now()}
		ctx, cancel := context.WithCancel(context.Background())
		l := reconciler.New(rec.pass, reconciler.Options[int]{Logger: quiet})
		done := make(chan error)
		go func() { done <- l.Run(ctx) }()
		synctest.Wait()
		if rec.count() != 1 || rec.runs[0] != 0 {
			t.Fatalf("runs %v, want one at 0", rec.runs)
		}
		time.Sleep(reconciler.DefaultInterval - time.Nanosecond)
		synctest.Wait()
		if rec.count() != 1 {
			t.Fatalf("second pass before the interval: %v", rec.runs)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if rec.count() != 2 || rec.runs[1] != reconciler.DefaultInterval {
			t.Fatalf("runs %v, want the second at exactly %v", rec.runs, reconciler.DefaultInterval)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
	})
}

func TestFailingAndPanickingPassesDoNotStopTheLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{start: time.Now(), fail: map[int]string{0: "error", 1: "panic"}}
		var errs []error
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		l := reconciler.New(rec.pass, reconciler.Options[int]{Interval: time.Second, Logger: quiet,
			OnReport: func(_ int, err error) { errs = append(errs, err) }})
		go l.Run(ctx)
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()
		if rec.count() != 3 {
			t.Fatalf("runs %v, want 3", rec.runs)
		}
		if errs[0] == nil || errs[1] == nil || errs[2] != nil {
			t.Fatalf("reported errors %v, want error, panic, nil", errs)
		}
	})
}

func TestTriggersCoalesce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{start: time.Now()}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		l := reconciler.New(rec.pass, reconciler.Options[int]{Logger: quiet})
		go l.Run(ctx)
		synctest.Wait() // first pass done
		block := make(chan struct{})
		rec.mu.Lock()
		rec.block = block
		rec.mu.Unlock()
		l.Trigger()
		synctest.Wait() // second pass running, blocked
		for range 10 {
			l.Trigger() // during the pass: coalesce
		}
		rec.mu.Lock()
		rec.block = nil
		rec.mu.Unlock()
		close(block)
		synctest.Wait()
		if rec.count() != 3 {
			t.Fatalf("runs %v, want 3: first, triggered, one coalesced follow-up", rec.runs)
		}
		for _, at := range rec.runs {
			if at != 0 {
				t.Fatalf("runs %v: triggered passes must not wait for the interval", rec.runs)
			}
		}
	})
}

func TestShutdownNeverInterruptsAPass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		block := make(chan struct{})
		var passCtxErr error
		pass := func(ctx context.Context) (int, error) {
			<-block
			passCtxErr = ctx.Err()
			return 0, nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		l := reconciler.New(pass, reconciler.Options[int]{Logger: quiet})
		done := make(chan error, 1)
		go func() { done <- l.Run(ctx) }()
		synctest.Wait()
		cancel()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("Run returned while a pass was in flight")
		default:
		}
		close(block)
		<-done
		if passCtxErr != nil {
			t.Fatalf("the pass saw its context cancelled: %v", passCtxErr)
		}
	})
}

func TestPassDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got error
		pass := func(ctx context.Context) (int, error) {
			<-ctx.Done()
			got = ctx.Err()
			return 0, ctx.Err()
		}
		ctx, cancel := context.WithCancel(context.Background())
		l := reconciler.New(pass, reconciler.Options[int]{Logger: quiet, PassTimeout: time.Minute})
		go l.Run(ctx)
		time.Sleep(time.Minute)
		synctest.Wait()
		cancel()
		if !errors.Is(got, context.DeadlineExceeded) {
			t.Fatalf("pass context ended with %v, want its deadline", got)
		}
	})
}
