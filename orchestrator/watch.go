package orchestrator

import (
	"context"
	"errors"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/runtime"
)

// appWatch keeps one goroutine per app last seen running and ready, for WatchEvents' lifetime.
// The goroutine runs body until something calls for a look at the app (its process ended, its
// check failed) or the watch ends; then the app is disarmed and a pass over it is queued. An app
// is armed again only when a pass sees it running, so an app kept down (crash-loop backoff, a
// dependency) costs no calls. An app that wants (when set) says has nothing to watch is not
// armed: a body that returned at once would queue a pass, whose sight of the running app would
// arm it again, without end.
type appWatch struct {
	ctx    context.Context
	body   func(ctx context.Context, app, container string)
	wants  func(App) bool
	notify func(app string)

	wg    sync.WaitGroup
	mu    sync.Mutex
	armed map[string]bool
}

// arm starts body for app's container unless it runs or app has nothing to watch. The caller
// holds the orchestrator's lock (app is an appState's).
func (w *appWatch) arm(app App, container string) {
	if w.wants != nil && !w.wants(app) {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.armed[app.Name] || w.ctx.Err() != nil {
		return
	}
	w.armed[app.Name] = true
	w.wg.Go(func() {
		w.body(w.ctx, app.Name, container)
		if w.ctx.Err() != nil {
			return
		}
		w.mu.Lock()
		delete(w.armed, app.Name)
		w.mu.Unlock()
		w.notify(app.Name)
	})
}

// startWatches installs WatchEvents' per-app watches and arms them for every app already seen
// running: an exit wait when src is a runtime.ExitWaiter, and the check schedule when
// Options.ScheduleExecChecks is set and the runtime is a runtime.HealthRunner. It returns a
// function that removes them and waits for their goroutines (ctx must be done by then). When
// another WatchEvents owns the watches, there is nothing to do.
func (o *Orchestrator) startWatches(ctx context.Context, src runtime.EventSource, notify func(string)) (stop func()) {
	var watches []*appWatch
	add := func(body func(ctx context.Context, app, container string), wants func(App) bool) {
		watches = append(watches, &appWatch{ctx: ctx, body: body, wants: wants, notify: notify, armed: map[string]bool{}})
	}
	if waiter, ok := src.(runtime.ExitWaiter); ok {
		add(waitExit(waiter, o.log), nil)
	}
	if runner, ok := o.rt.(runtime.HealthRunner); ok && o.opts.ScheduleExecChecks {
		add(o.runChecks(runner), func(a App) bool { return a.Health.Kind() == health.KindExec })
	}
	o.mu.Lock()
	if o.watches != nil || len(watches) == 0 {
		o.mu.Unlock()
		return func() {}
	}
	o.watches = watches
	for _, s := range o.apps {
		if s.desired && s.seen.state == runtime.StateRunning {
			for _, w := range watches {
				w.arm(s.app, s.spec.Name)
			}
		}
	}
	o.mu.Unlock()
	return func() {
		o.mu.Lock()
		o.watches = nil
		o.mu.Unlock()
		for _, w := range watches {
			w.wg.Wait()
		}
	}
}

// watchRunning arms the watches, if they run, for s, which a pass just saw running.
func (o *Orchestrator) watchRunning(s *appState) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if s.desired {
		for _, w := range o.watches {
			w.arm(s.app, s.spec.Name)
		}
	}
}

// waitExit is the exit watch: one runtime.ExitWaiter wait per running app, so that a death
// queues a pass within milliseconds of the process's end, instead of when the engine's event
// log delivers "died" (200 to 500 ms later with podman and journald).
func waitExit(waiter runtime.ExitWaiter, log *slog.Logger) func(ctx context.Context, app, container string) {
	return func(ctx context.Context, app, container string) {
		err := waiter.WaitExit(ctx, container)
		if err != nil && ctx.Err() == nil && !errors.Is(err, runtime.ErrNotFound) {
			log.Debug("exit wait failed", "app", app, "err", err)
		}
	}
}

// checkGrace is how much longer than its check's Timeout one scheduled check may take: the
// engine's own exec set-up and a busy node.
const checkGrace = 5 * time.Second

// runChecks is the check schedule (Options.ScheduleExecChecks): it runs a running app's exec
// check every Interval through the engine, which records the result as its own timer would.
// It returns, so that a pass looks at the app, when a check reports unhealthy (the engine has
// counted FailureThreshold failures) or cannot run (the container stopped or is gone, the engine
// is unreachable). It also returns when the app is no longer desired or its check is no longer
// an exec check. The first check comes after a phase within the interval that depends on the
// app's name, so that apps armed together (at start-up, after a bring-up) are not checked
// together: the checks of a node's apps spread over the interval.
func (o *Orchestrator) runChecks(runner runtime.HealthRunner) func(ctx context.Context, app, container string) {
	return func(ctx context.Context, app, container string) {
		check, ok := o.scheduledCheck(app)
		for wait := phase(app, check.Interval); ok; wait = check.Interval {
			if !sleep(ctx, wait, nil) {
				return
			}
			if check, ok = o.scheduledCheck(app); !ok {
				return
			}
			cctx, cancel := context.WithTimeout(ctx, check.Timeout+checkGrace)
			h, err := runner.RunHealthCheck(cctx, container)
			cancel()
			switch {
			case err != nil:
				if ctx.Err() == nil {
					o.log.Debug("scheduled check could not run", "app", app, "err", err)
				}
				return
			case h == runtime.HealthUnhealthy:
				o.log.Info("scheduled check reports unhealthy", "app", app)
				return
			}
		}
	}
}

// phase returns a duration in (0, interval] that depends on name only.
func phase(name string, interval time.Duration) time.Duration {
	if interval <= 0 {
		return interval
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	return interval - time.Duration(h.Sum64()%uint64(interval))
}

// scheduledCheck returns app's exec check with its defaults, and false when the app is not
// desired or has no exec check.
func (o *Orchestrator) scheduledCheck(app string) (health.Check, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.apps[app]
	if s == nil || !s.desired || s.app.Health.Kind() != health.KindExec {
		return health.Check{}, false
	}
	return s.app.Health.WithDefaults(), true
}
