// Package reconciler owns the loops that keep re-checking desired state: the periodic Loop (a
// pass at once, then one every interval, an immediate coalesced pass on Trigger), the per-key
// Keyed queue and the Watch of an event stream. They survive failing and panicking passes and
// shut down in bounded time: a pass in flight when the loop's context ends gets a grace period,
// then its own context is cancelled. They know nothing of containers: a pass is any function.
package reconciler

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// DefaultInterval is the time between periodic passes.
const DefaultInterval = 30 * time.Second

// DefaultPassTimeout bounds one pass.
const DefaultPassTimeout = 10 * time.Minute

// Pass is one reconcile pass. Its context is not the loop's: it carries the loop context's
// values and ends at the pass deadline, or Grace after the loop's context ended, so that a
// shutdown lets an in-flight pass finish within a bound.
type Pass[R any] func(ctx context.Context) (R, error)

// Options configure a Loop. The zero value is usable.
type Options[R any] struct {
	// Interval between the end of one pass and the start of the next (default 30 s).
	Interval time.Duration
	// PassTimeout bounds each pass (default 10 min).
	PassTimeout time.Duration
	// Grace is how long a pass in flight when Run's context ends may go on before its context
	// is cancelled (cause ErrShutdown). Zero: the context's WithShutdownGrace value, else
	// DefaultGrace; negative: none.
	Grace time.Duration
	// OnReport receives each pass's result and error (a panic arrives as an error), in the
	// loop's goroutine. It must not block for long.
	OnReport func(R, error)
	// Logger receives the loop's logs (default slog.Default()).
	Logger *slog.Logger
}

// Loop runs passes. Create it with New, start it with Run, nudge it with Trigger.
type Loop[R any] struct {
	pass    Pass[R]
	opts    Options[R]
	trigger chan struct{}
}

// New returns a loop that runs pass.
func New[R any](pass Pass[R], opts Options[R]) *Loop[R] {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.PassTimeout <= 0 {
		opts.PassTimeout = DefaultPassTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Loop[R]{pass: pass, opts: opts, trigger: make(chan struct{}, 1)}
}

// Trigger requests a pass as soon as possible. It never blocks; triggers that arrive while a
// pass runs (or before the loop takes the first one) coalesce into one follow-up pass.
func (l *Loop[R]) Trigger() {
	select {
	case l.trigger <- struct{}{}:
	default:
	}
}

// Run runs a pass at once, then one every Interval or on Trigger, until ctx ends. Cancelling ctx
// interrupts the wait between passes; a pass in flight gets Grace to finish, then its context is
// cancelled, and Run returns when it returns (its report is delivered first). Run returns ctx's
// error.
func (l *Loop[R]) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		case <-l.trigger:
			if !timer.Stop() {
				select { // drain a tick that fired together with the trigger
				case <-timer.C:
				default:
				}
			}
		}
		if ctx.Err() != nil { // a tick or trigger that raced the end: no new pass
			return ctx.Err()
		}
		l.runPass(ctx)
		timer.Reset(l.opts.Interval)
	}
}

// runPass runs one pass under its own deadline and ctx's grace.
func (l *Loop[R]) runPass(ctx context.Context) {
	pctx, cancel := passContext(ctx, l.opts.PassTimeout, graceOf(ctx, l.opts.Grace))
	defer cancel()
	start := time.Now()
	r, err := l.safePass(pctx)
	if err != nil {
		l.opts.Logger.Warn("reconcile pass failed", "err", err, "duration", time.Since(start))
	} else {
		l.opts.Logger.Debug("reconcile pass done", "duration", time.Since(start))
	}
	if l.opts.OnReport != nil {
		l.opts.OnReport(r, err)
	}
}

func (l *Loop[R]) safePass(ctx context.Context) (r R, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("reconcile pass panicked: %v", p)
		}
	}()
	return l.pass(ctx)
}
