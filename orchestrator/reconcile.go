package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/skerry-dev/skerry/reconciler"
	"github.com/skerry-dev/skerry/runtime"
)

// ReconcileAll runs one level-based pass over every app: one List call observes all managed
// containers; each app that needs an action gets it (apps in dependency order, independent apps
// in parallel, at most Options.Workers at a time). A pass in which nothing needs doing makes
// exactly one runtime call (plus, every Options.ImageRecheck, one per distinct image tag: see
// TagMoved; and at the first pass, and any while an owned network is kept in use, one to look
// for networks to remove when the runtime is a runtime.NetworkManager). A per-app failure or
// panic is reported in that app's entry and never aborts the pass. The crash-loop backoff is
// honoured.
func (o *Orchestrator) ReconcileAll(ctx context.Context) Report {
	rep := Report{Start: time.Now()}
	states, gens, deps := o.snapshot()
	observed, err := o.rt.List(ctx, runtime.ManagedOnly())
	if err != nil {
		rep.Err = fmt.Errorf("list managed containers: %w", err)
		rep.Duration = time.Since(rep.Start)
		o.log.Warn("reconcile pass could not observe the runtime", "err", err)
		return rep
	}
	o.resolveTags(ctx, states)
	byName := make(map[string]runtime.Observation, len(observed))
	for _, obs := range observed {
		byName[obs.Name] = obs
	}

	var mu sync.Mutex
	add := func(r AppReport) {
		mu.Lock()
		rep.Apps = append(rep.Apps, r)
		mu.Unlock()
	}
	recs := make(map[string]*records, len(states))
	for name := range states {
		recs[name] = &records{known: true}
	}
	for name, obs := range byName {
		if app, prev, ok := recordOf(obs); ok && recs[app] != nil {
			recs[app].add(obs, prev)
			delete(byName, name)
		} else if _, known := states[name]; !known {
			add(o.orphan(ctx, obs))
		}
	}
	for _, wave := range waves(deps) {
		o.runWave(ctx, wave, func(ctx context.Context, name string) {
			s := states[name]
			obs, ok := byName[name]
			if !ok {
				obs = runtime.Missing(name)
			}
			add(o.reconcileOne(ctx, s, obs, recs[name], gens[name]))
		})
	}
	rep.StrayTimers = o.sweepTimers(ctx, observed)
	o.pruneImages(ctx, states, observed)
	if o.netSweep.due() && ctx.Err() == nil {
		kept, err := o.sweepNetworks(ctx, "")
		if err != nil {
			o.log.Warn("network sweep failed; the next pass retries", "err", err)
		}
		rep.KeptNetworks = kept
	}
	// A pass whose context ended never leaves an app out of its report (a report without it
	// could pass for converged).
	reported := map[string]bool{}
	for _, r := range rep.Apps {
		reported[r.App] = true
	}
	for _, name := range slices.Sorted(maps.Keys(states)) {
		if !reported[name] && ctx.Err() != nil {
			rep.Apps = append(rep.Apps, AppReport{App: name, Err: interrupted(ctx), Reason: "not reached: interrupted"})
		}
	}
	slices.SortFunc(rep.Apps, func(a, b AppReport) int { return strings.Compare(a.App, b.App) })
	rep.Duration = time.Since(rep.Start)
	return rep
}

// ReconcileApp runs a pass over one app: one Inspect call observes it, and it gets the action
// it needs, as in ReconcileAll (backoff honoured). It is what an event about the app triggers.
// An app the orchestrator does not know is reported with ActionNone and left alone.
func (o *Orchestrator) ReconcileApp(ctx context.Context, name string) AppReport {
	s := o.state(name, false)
	if s == nil {
		return AppReport{App: name, Reason: "unknown app"}
	}
	if err := s.acquire(ctx); err != nil {
		return AppReport{App: name, Err: err, Reason: "not reached: interrupted"}
	}
	defer s.release()
	rep, _ := o.ensure(ctx, s, nil, nil, false)
	return rep
}

// WatchEvents reacts to src's events until ctx ends: an event about an app queues a pass over
// that app alone (coalesced: a burst costs at most two passes per app; at most Options.Workers
// act at once, and a pass that only waits for its restarted app to be ready leaves its slot to
// the next, so a burst is not served in waves), a pass that meets the crash-loop backoff is
// queued again for when it expires, and a broken stream is reopened with backoff. When src is also a runtime.ExitWaiter, a wait
// is kept open on every app seen running, so that a death is reacted to before the engine's
// event about it arrives. Every per-app pass's report goes to onReport (may be nil). The
// periodic ReconcileAll stays the safety net; run both.
func (o *Orchestrator) WatchEvents(ctx context.Context, src runtime.EventSource, onReport func(AppReport)) {
	// The queue's workers only bound how many passes are in flight; acting takes one of
	// Workers slots, given back while a pass only waits for its app to be ready (yieldSlot),
	// so that a burst of deaths is not served in waves of Workers.
	slots := make(chan struct{}, o.opts.Workers)
	var keyed *reconciler.Keyed
	keyed = reconciler.NewKeyed(func(ctx context.Context, app string) {
		sl := &slot{sem: slots}
		if err := sl.acquire(ctx); err != nil {
			return
		}
		rep := o.ReconcileApp(context.WithValue(ctx, slotKey{}, sl), app)
		sl.release()
		if !rep.NotBefore.IsZero() {
			keyed.AddAfter(app, time.Until(rep.NotBefore))
		}
		if onReport != nil {
			onReport(rep)
		}
	}, reconciler.KeyedOptions{Workers: max(eventPasses, o.opts.Workers), Logger: o.log})
	stopWatches := o.startWatches(ctx, src, keyed.Add)
	var wg sync.WaitGroup
	wg.Go(func() { keyed.Run(ctx) })
	wg.Go(func() { reconciler.Watch(ctx, AppEvents(src), keyed.Add, reconciler.WatchOptions{Logger: o.log}) })
	wg.Wait()
	stopWatches()
}

// eventPasses bounds WatchEvents' passes in flight, most of them waiting for readiness.
const eventPasses = 64

// AppEvents adapts a runtime's event stream to the names of the apps that need a look: a
// container died, was removed, paused, killed for memory, or changed health. Events of
// skerry's own creates and starts are left out. Use it with reconciler.Watch and
// reconciler.Keyed to react within a second instead of at the next periodic pass.
func AppEvents(src runtime.EventSource) func(ctx context.Context) (<-chan string, error) {
	return func(ctx context.Context) (<-chan string, error) {
		events, err := src.Events(ctx)
		if err != nil {
			return nil, err
		}
		out := make(chan string)
		go func() {
			defer close(out)
			for e := range events {
				app, ok := EventApp(e)
				if !ok {
					continue
				}
				select {
				case out <- app:
				case <-ctx.Done():
					for range events { // let the source close its channel
					}
					return
				}
			}
		}()
		return out, nil
	}
}

// EventApp returns the app an event is about and whether it calls for a look. A health_status
// event counts only when it reports unhealthy (or does not say): podman emits one for every
// check run, and a passing check needs no pass.
func EventApp(e runtime.Event) (string, bool) {
	switch e.Kind {
	case "died", "remove", "pause", "oom", "kill":
	case "health_status":
		if e.Health != runtime.HealthUnhealthy && e.Health != runtime.HealthUnknown {
			return "", false
		}
	default:
		return "", false
	}
	app := e.App
	if app == "" {
		app = e.Container
	}
	return app, app != ""
}

// runWave calls f for every name, at most Workers at a time acting, and returns when all are
// done. A worker gives its slot back while it only waits for a started app to become ready (see
// slot), so a cold start of many apps is not served in waves of Workers.
func (o *Orchestrator) runWave(ctx context.Context, names []string, f func(context.Context, string)) {
	sem := make(chan struct{}, o.opts.Workers)
	var wg sync.WaitGroup
	for _, name := range names {
		sl := &slot{sem: sem}
		if err := sl.acquire(ctx); err != nil {
			break
		}
		wg.Go(func() {
			defer sl.release()
			f(context.WithValue(ctx, slotKey{}, sl), name)
		})
	}
	wg.Wait()
}

// slot is one worker slot of a pass, owned by one goroutine.
type slot struct {
	sem  chan struct{}
	held bool
}

type slotKey struct{}

func (s *slot) acquire(ctx context.Context) error {
	select {
	case s.sem <- struct{}{}:
		s.held = true
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *slot) release() {
	if s.held {
		<-s.sem
		s.held = false
	}
}

// yieldSlot gives the caller's worker slot back, if it has one, and returns the function that
// takes one again.
func yieldSlot(ctx context.Context) func() {
	sl, _ := ctx.Value(slotKey{}).(*slot)
	if sl == nil || !sl.held {
		return func() {}
	}
	sl.release()
	return func() { _ = sl.acquire(ctx) }
}

// reconcileOne handles one app within a pass. obs and recs come from the pass's List call; they
// are observed again when another operation acted on the app since (its generation moved).
func (o *Orchestrator) reconcileOne(ctx context.Context, s *appState, obs runtime.Observation, recs *records, gen uint64) AppReport {
	if err := s.acquire(ctx); err != nil {
		return AppReport{App: obs.Name, Err: err, Reason: "not reached: interrupted"}
	}
	defer s.release()
	o.mu.Lock()
	moved := s.generation != gen
	o.mu.Unlock()
	if moved {
		rep, _ := o.ensure(ctx, s, nil, nil, false)
		return rep
	}
	rep, _ := o.ensure(ctx, s, &obs, recs, false)
	return rep
}

// orphan reports (and with PruneOrphans removes) a managed container of an unknown app (its
// release records included).
func (o *Orchestrator) orphan(ctx context.Context, obs runtime.Observation) AppReport {
	rep := AppReport{App: obs.Name, Observed: obs.State, Health: obs.Health, Action: ActionNone, Reason: "orphan: no app of this name is registered"}
	if !o.opts.PruneOrphans {
		return rep
	}
	start := time.Now()
	rep.Action, rep.Reason = ActionRemove, "orphan pruned"
	err := o.rt.Remove(ctx, obs.Name, runtime.RemoveOptions{Force: true})
	if err != nil && !errors.Is(err, runtime.ErrNotFound) {
		rep.Err = fmt.Errorf("remove orphan %s: %w", obs.Name, err)
	}
	rep.Duration = time.Since(start)
	return rep
}

// waves orders apps so that every app comes in a later wave than the apps it depends on. deps
// maps every app to its dependencies (nil for undesired apps). A cycle (refused at registration)
// is cut where it is met.
func waves(deps map[string][]string) [][]string {
	level := map[string]int{}
	var depth func(name string, path map[string]bool) int
	depth = func(name string, path map[string]bool) int {
		if l, ok := level[name]; ok {
			return l
		}
		if path[name] {
			return 0
		}
		path[name] = true
		l := 0
		for _, d := range deps[name] {
			if _, ok := deps[d]; ok {
				l = max(l, depth(d, path)+1)
			}
		}
		delete(path, name)
		level[name] = l
		return l
	}
	var out [][]string
	for _, name := range slices.Sorted(maps.Keys(deps)) {
		l := depth(name, map[string]bool{})
		for len(out) <= l {
			out = append(out, nil)
		}
		out[l] = append(out[l], name)
	}
	return out
}
