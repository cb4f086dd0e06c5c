package orchestrator

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/skerry-dev/skerry/runtime"
)

// exitWatch keeps one runtime.ExitWaiter wait open per app last seen running and ready, while
// WatchEvents runs: a death queues a pass within milliseconds of the process's end, instead of
// when the engine's event log delivers "died" (200 to 500 ms later with podman and journald).
// A wait that returned is not reopened until a pass sees the app running again, so an app kept
// down (crash-loop backoff, a dependency) costs no calls.
type exitWatch struct {
	ctx    context.Context
	waiter runtime.ExitWaiter
	notify func(app string)
	log    *slog.Logger

	wg    sync.WaitGroup
	mu    sync.Mutex
	armed map[string]bool
}

// arm opens a wait on app's container unless one is open.
func (w *exitWatch) arm(app, container string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.armed[app] || w.ctx.Err() != nil {
		return
	}
	w.armed[app] = true
	w.wg.Go(func() {
		err := w.waiter.WaitExit(w.ctx, container)
		if w.ctx.Err() != nil {
			return
		}
		if err != nil && !errors.Is(err, runtime.ErrNotFound) {
			w.log.Debug("exit wait failed", "app", app, "err", err)
		}
		w.mu.Lock()
		delete(w.armed, app)
		w.mu.Unlock()
		w.notify(app)
	})
}

// startExitWatch installs an exit watch for WatchEvents' lifetime and arms it for every app
// already seen running. It returns a function that removes it and waits for its waits to end
// (ctx must be done by then). Without an ExitWaiter, or when another WatchEvents owns the
// watch, there is nothing to do.
func (o *Orchestrator) startExitWatch(ctx context.Context, src runtime.EventSource, notify func(string)) (stop func()) {
	waiter, ok := src.(runtime.ExitWaiter)
	if !ok {
		return func() {}
	}
	w := &exitWatch{ctx: ctx, waiter: waiter, notify: notify, log: o.log, armed: map[string]bool{}}
	o.mu.Lock()
	if o.exits != nil {
		o.mu.Unlock()
		return func() {}
	}
	o.exits = w
	for _, s := range o.apps {
		if s.desired && s.seen.state == runtime.StateRunning {
			w.arm(s.app.Name, s.spec.Name)
		}
	}
	o.mu.Unlock()
	return func() {
		o.mu.Lock()
		o.exits = nil
		o.mu.Unlock()
		w.wg.Wait()
	}
}

// watchExit arms the exit watch, if one runs, for s, which a pass just saw running.
func (o *Orchestrator) watchExit(s *appState) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.exits != nil && s.desired {
		o.exits.arm(s.app.Name, s.spec.Name)
	}
}
