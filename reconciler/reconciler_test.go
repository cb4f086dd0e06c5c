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

func TestShutdownGivesAPassItsGrace(t *testing.T) {
	for _, tc := range []struct {
		name      string
		grace     time.Duration // Options.Grace
		ctxGrace  time.Duration // WithShutdownGrace, 0: none
		passTakes time.Duration
		wantEnd   time.Duration // when Run returns, after the cancel
		wantErr   error         // the pass context's error when the pass ends
	}{
		{"finishes within the default grace", 0, 0, 5 * time.Second, 5 * time.Second, nil},
		{"cut at the default grace", 0, 0, time.Hour, reconciler.DefaultGrace, context.Canceled},
		{"cut at its own grace", 3 * time.Second, 0, time.Hour, 3 * time.Second, context.Canceled},
		{"cut at the context's grace", 0, 2 * time.Second, time.Hour, 2 * time.Second, context.Canceled},
		{"its own grace wins over the context's", 4 * time.Second, 2 * time.Second, time.Hour, 4 * time.Second, context.Canceled},
		{"no grace", -1, 0, time.Hour, 0, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var passErr, cause error
				started := make(chan struct{})
				pass := func(ctx context.Context) (int, error) {
					close(started)
					select {
					case <-time.After(tc.passTakes):
					case <-ctx.Done():
					}
					passErr, cause = ctx.Err(), context.Cause(ctx)
					return 0, passErr
				}
				base := context.Background()
				if tc.ctxGrace != 0 {
					base = reconciler.WithShutdownGrace(base, tc.ctxGrace)
				}
				ctx, cancel := context.WithCancel(base)
				var reported error
				l := reconciler.New(pass, reconciler.Options[int]{Logger: quiet, Grace: tc.grace,
					OnReport: func(_ int, err error) { reported = err }})
				done := make(chan error, 1)
				go func() { done <- l.Run(ctx) }()
				<-started
				cancel()
				cancelled := time.Now()
				if err := <-done; !errors.Is(err, context.Canceled) {
					t.Fatalf("Run returned %v", err)
				}
				if took := time.Since(cancelled); took != tc.wantEnd {
					t.Fatalf("Run returned %v after the cancel, want %v", took, tc.wantEnd)
				}
				if !errors.Is(passErr, tc.wantErr) || !errors.Is(reported, tc.wantErr) {
					t.Fatalf("pass context ended with %v (reported %v), want %v", passErr, reported, tc.wantErr)
				}
				if tc.wantErr != nil && !errors.Is(cause, reconciler.ErrShutdown) {
					t.Fatalf("cause %v, want ErrShutdown", cause)
				}
			})
		})
	}
}

func TestNoPassAfterShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{start: time.Now()}
		ctx, cancel := context.WithCancel(context.Background())
		l := reconciler.New(rec.pass, reconciler.Options[int]{Logger: quiet})
		cancel()
		l.Trigger() // both ready: the end wins
		if err := l.Run(ctx); !errors.Is(err, context.Canceled) || rec.count() != 0 {
			t.Fatalf("Run = %v after %d passes, want no pass", err, rec.count())
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
