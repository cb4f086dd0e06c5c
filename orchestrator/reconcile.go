package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/skerry-dev/skerry/runtime"
)

// ReconcileAll runs one level-based pass over every app: one List call observes all managed
// containers; each app that needs an action gets it (apps in dependency order, independent apps
// in parallel, at most Options.Workers at a time). A pass in which nothing needs doing makes
// exactly one runtime call. A per-app failure or panic is reported in that app's entry and never
// aborts the pass. The crash-loop backoff is honoured.
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
	for name, obs := range byName {
		if _, known := states[name]; !known {
			add(o.orphan(ctx, obs))
		}
	}
	for _, wave := range waves(deps) {
		o.runWave(ctx, wave, func(name string) {
			s := states[name]
			obs, ok := byName[name]
			if !ok {
				obs = runtime.Missing(name)
			}
			add(o.reconcileOne(ctx, s, obs, gens[name]))
		})
	}
	slices.SortFunc(rep.Apps, func(a, b AppReport) int { return cmpString(a.App, b.App) })
	rep.Duration = time.Since(rep.Start)
	return rep
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// runWave calls f for every name, at most Workers at a time, and returns when all are done.
func (o *Orchestrator) runWave(ctx context.Context, names []string, f func(string)) {
	sem := make(chan struct{}, o.opts.Workers)
	var wg sync.WaitGroup
	for _, name := range names {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(name)
		})
	}
	wg.Wait()
}

// reconcileOne handles one app within a pass. obs comes from the pass's List call; it is
// re-inspected when another operation acted on the app since (its generation moved).
func (o *Orchestrator) reconcileOne(ctx context.Context, s *appState, obs runtime.Observation, gen uint64) AppReport {
	if err := s.acquire(ctx); err != nil {
		return AppReport{App: obs.Name, Err: err, Reason: "not reached"}
	}
	defer s.release()
	o.mu.Lock()
	moved := s.generation != gen
	o.mu.Unlock()
	var given *runtime.Observation
	if !moved {
		given = &obs
	}
	rep, _ := o.ensure(ctx, s, given, false)
	return rep
}

// orphan reports (and with PruneOrphans removes) a managed container of an unknown app.
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
