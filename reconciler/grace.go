package reconciler

import (
	"context"
	"errors"
	"sync"
	"time"
)

// DefaultGrace is how long a pass in flight when its loop's context ends may run on before its
// own context is cancelled.
const DefaultGrace = 10 * time.Second

// ErrShutdown is the cause (context.Cause) of a pass's context cancelled because its loop's
// context ended and the pass outlived its grace period.
var ErrShutdown = errors.New("reconciler: shutting down")

type graceKey struct{}

// WithShutdownGrace returns a context that makes the Loops and Keyed queues run under it give
// their in-flight passes d after it ends, when their options set no Grace of their own. It is
// how a supervisor bounds the shutdown of loops it does not construct (a negative d cancels
// passes as soon as the context ends).
func WithShutdownGrace(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, graceKey{}, d)
}

// graceOf returns the grace for passes run under ctx: opt when set, else the context's
// WithShutdownGrace value, else DefaultGrace. A negative grace is none.
func graceOf(ctx context.Context, opt time.Duration) time.Duration {
	d := opt
	if d == 0 {
		d = DefaultGrace
		if v, ok := ctx.Value(graceKey{}).(time.Duration); ok && v != 0 {
			d = v
		}
	}
	return max(d, 0)
}

// passContext returns the context of one pass started under ctx: it keeps ctx's values, is not
// cancelled when ctx ends but grace later (with cause ErrShutdown), and ends at timeout. The
// returned function releases it; call it when the pass returns.
func passContext(ctx context.Context, timeout, grace time.Duration) (context.Context, context.CancelFunc) {
	pctx, cancelCause := context.WithCancelCause(context.WithoutCancel(ctx))
	pctx, cancelTimeout := context.WithTimeout(pctx, timeout)
	var mu sync.Mutex
	var timer *time.Timer
	ended := false
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !ended {
			timer = time.AfterFunc(grace, func() { cancelCause(ErrShutdown) })
		}
	})
	return pctx, func() {
		stop()
		mu.Lock()
		ended = true
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancelTimeout()
		cancelCause(context.Canceled)
	}
}
