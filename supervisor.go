package skerry

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/reconciler"
	"github.com/skerry-dev/skerry/runtime"
)

// Supervisor keeps a node's apps and their companions in their desired state. Build it with
// New, run it with Run; it is safe for concurrent use.
type Supervisor struct {
	rt    runtime.Runtime
	units companion.Units
	orch  *orchestrator.Orchestrator
	comps *companion.Manager // nil without a unit manager
	opts  Options
	log   *slog.Logger
	loop  *reconciler.Loop[Report]

	running atomic.Bool
	status  *statusBook
	// report guards the reports queued for OnReport and whether one is being delivered.
	report     sync.Mutex
	queue      []Report
	delivering bool

	mu   sync.Mutex
	apps map[string]App // the desired apps, as given
	// locks holds, by app name, the lock that serializes the app's Install and Uninstall, while
	// a call holds or waits for it.
	locks map[string]*appLock
}

// New returns a supervisor of apps on rt. units is the unit manager that runs companions
// ((*systemd.Manager) over D-Bus, quadlet/fake in tests); it may be nil when no app has
// companions. When units also implements UnitWatcher, Run watches the companions' units.
//
// New validates the options, every app and companion, and the dependency graph, and returns a
// typed error (matching runtime.ErrInvalidSpec) before any side effect. It makes no runtime
// call: the first pass of Run does the work, and refuses there, in the app's report, a
// container the host cannot run (a port below a rootless engine's unprivileged port start).
func New(rt runtime.Runtime, units companion.Units, opts Options, apps ...App) (*Supervisor, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Supervisor{rt: rt, units: units, opts: opts, log: opts.Logger, apps: map[string]App{}, locks: map[string]*appLock{}}
	s.status = newStatusBook()
	oopts := orchestrator.Options{Logger: opts.Logger, Workers: opts.Workers, PruneOrphans: opts.PruneOrphans, Secrets: opts.Secrets,
		SnapshotDir: opts.SnapshotDir, OnPull: s.status.pulling, ImageRecheck: opts.ImageRecheck, KeepImages: opts.KeepImages}
	if store, ok := rt.(runtime.SecretStore); ok && oopts.Secrets == nil {
		oopts.Secrets = store
	}
	if _, ok := rt.(runtime.HealthRunner); ok && !opts.EngineExecChecks && !opts.PeriodicOnly {
		oopts.ScheduleExecChecks = true // Run runs WatchEvents, which runs the checks
	}
	if units != nil {
		copts := opts.Companions
		copts.OnPull = s.status.companionPulling
		if user := opts.Companions.OnPull; user != nil {
			copts.OnPull = func(app, name string, p runtime.PullProgress, done bool) {
				s.status.companionPulling(app, name, p, done)
				user(app, name, p, done)
			}
		}
		if s.comps, err = companion.New(units, rt, copts); err != nil {
			return nil, err
		}
		oopts.Companions = s.comps
		// podman's check timers that outlived their containers (a kill mid-restart with the
		// engine's checks, or left from before ScheduleExecChecks) are swept by the passes.
		if timers, ok := units.(orchestrator.CheckTimers); ok {
			oopts.CheckTimers = timers
		}
	}
	s.orch = orchestrator.New(rt, oopts)
	if err := s.register(apps); err != nil {
		return nil, err
	}
	s.loop = reconciler.New(s.pass, reconciler.Options[Report]{
		Interval: opts.Interval, PassTimeout: opts.PassTimeout, Logger: opts.Logger,
		OnReport: func(r Report, _ error) { s.deliver(r) },
	})
	return s, nil
}

// register validates apps and records them, their companions first.
func (s *Supervisor) register(apps []App) error {
	for _, a := range apps {
		if len(a.Companions) > 0 && s.comps == nil {
			return fmt.Errorf("app %q: %w", a.Name, ErrNoUnitManager)
		}
	}
	plain := make([]orchestrator.App, len(apps))
	for i, a := range apps {
		plain[i] = a.App
	}
	// Companions first: the orchestrator checks the secrets they reference and the rendered
	// files that name them as consumers against the registered companions. New discards the
	// manager on an error.
	if s.comps != nil {
		for _, a := range apps {
			if err := s.comps.Register(a.Name, a.Companions...); err != nil {
				return err
			}
		}
	}
	// No host check: New makes no runtime call. The first pass's create refuses a container the
	// host cannot run (Install checks before it acts).
	if err := s.orch.RegisterAllNoHostCheck(context.Background(), plain...); err != nil {
		return err
	}
	for _, a := range apps {
		s.mu.Lock()
		s.apps[a.Name] = a
		s.mu.Unlock()
		s.status.want(a)
	}
	return nil
}

// Orchestrator returns the orchestrator the supervisor drives, for what the supervisor does not
// offer (EnsureRunning ...). Its apps are the supervisor's.
func (s *Supervisor) Orchestrator() *orchestrator.Orchestrator { return s.orch }

// Companions returns the companion manager, nil without a unit manager.
func (s *Supervisor) Companions() *companion.Manager { return s.comps }

// Trigger requests a pass over every app and companion as soon as possible; requests coalesce.
func (s *Supervisor) Trigger() { s.loop.Trigger() }

// Run supervises until ctx ends: a pass over every app and then every companion at once, then
// every Interval and on Trigger; a pass over one app on each of its engine events, container
// exits and failed scheduled checks (orchestrator.WatchEvents, which also runs the exec checks
// unless Options.EngineExecChecks); a pass over one companion on each change of its unit's
// state, when the unit manager is a UnitWatcher (none of these with Options.PeriodicOnly).
// Every pass's report goes to the status and to Options.OnReport.
//
// When ctx ends, no new pass starts; passes in flight get half of Options.ShutdownTimeout, then
// their context is cancelled. Run returns ctx's error once everything it started has ended, or
// an error wrapping ErrShutdownTimeout when that takes longer than ShutdownTimeout. Apps and
// companions are left running. Run may be called again once everything the last Run started
// has ended, never concurrently (ErrRunning): after ErrShutdownTimeout, a new Run is refused
// until the work left in flight ends.
func (s *Supervisor) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	work := reconciler.WithShutdownGrace(ctx, s.opts.ShutdownTimeout/2)
	var wg sync.WaitGroup
	wg.Go(func() { s.loop.Run(work) })
	if !s.opts.PeriodicOnly {
		s.watch(work, &wg)
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		s.running.Store(false) // only now: a Run that timed out leaves its work running
		close(done)
	}()
	<-ctx.Done()
	timeout := time.NewTimer(s.opts.ShutdownTimeout)
	defer timeout.Stop()
	select {
	case <-done:
		return ctx.Err()
	case <-timeout.C:
		s.log.Error("shutdown timed out; returning with work still in flight", "timeout", s.opts.ShutdownTimeout)
		return fmt.Errorf("skerry: %w after %v", ErrShutdownTimeout, s.opts.ShutdownTimeout)
	}
}

// watch starts the watches in wg: the apps' events, exits and checks, and the companions'
// units when the unit manager can stream their changes.
func (s *Supervisor) watch(ctx context.Context, wg *sync.WaitGroup) {
	wg.Go(func() { s.orch.WatchEvents(ctx, eventSource(s.rt), s.appEvent) })
	if w, ok := s.units.(UnitWatcher); ok && s.comps != nil {
		unitPasses := reconciler.NewKeyed(s.unitPass, reconciler.KeyedOptions{Workers: 1, PassTimeout: s.opts.PassTimeout, Logger: s.log})
		wg.Go(func() { unitPasses.Run(ctx) })
		wg.Go(func() { s.comps.WatchUnits(ctx, relayUnits(w, unitPasses.Add)) })
	}
}

// pass is the periodic pass: every app, then every companion, in one report.
func (s *Supervisor) pass(ctx context.Context) (Report, error) {
	r := s.orch.ReconcileAll(ctx)
	rep := Report{Source: SourcePass, Start: r.Start, Err: r.Err, Apps: r.Apps}
	if s.comps != nil {
		rep.Companions = s.comps.Reconcile(ctx)
	}
	rep.Duration = time.Since(rep.Start)
	rep.Interrupted = ctx.Err() != nil
	return rep, rep.Err
}

// appEvent delivers the report of WatchEvents' pass over one app.
func (s *Supervisor) appEvent(r orchestrator.AppReport) {
	s.deliver(Report{Source: SourceEvent, Start: time.Now().Add(-r.Duration), Duration: r.Duration,
		Interrupted: interrupted(r.Err), Apps: []orchestrator.AppReport{r}})
}

// unitPass is the pass over one companion unit whose state changed.
func (s *Supervisor) unitPass(ctx context.Context, unit string) {
	start := time.Now()
	reps := s.comps.ReconcileUnit(ctx, unit)
	if len(reps) == 0 {
		return // not (or no longer) a companion
	}
	s.deliver(Report{Source: SourceUnit, Start: start, Duration: time.Since(start),
		Interrupted: ctx.Err() != nil, Companions: reps})
}

// deliver records r in the status and hands it to OnReport, one report at a time and in order:
// the caller that finds no delivery under way delivers every report queued until the queue is
// empty, so that an OnReport which calls Install or Uninstall queues their report instead of
// deadlocking.
func (s *Supervisor) deliver(r Report) {
	slices.SortFunc(r.Apps, func(a, b orchestrator.AppReport) int { return strings.Compare(a.App, b.App) })
	slices.SortFunc(r.Companions, func(a, b companion.UnitReport) int { return strings.Compare(a.Unit, b.Unit) })
	s.status.record(r)
	if s.opts.OnReport == nil {
		return
	}
	s.report.Lock()
	s.queue = append(s.queue, r)
	if s.delivering {
		s.report.Unlock()
		return
	}
	s.delivering = true
	s.report.Unlock()
	defer func() {
		if p := recover(); p != nil { // OnReport panicked: let the next report be delivered
			s.report.Lock()
			s.delivering = false
			s.report.Unlock()
			panic(p)
		}
	}()
	for {
		s.report.Lock()
		if len(s.queue) == 0 {
			s.delivering = false
			s.report.Unlock()
			return
		}
		next := s.queue[0]
		s.queue = s.queue[1:]
		s.report.Unlock()
		s.opts.OnReport(next)
	}
}

// relayUnits is the change source handed to companion.Manager.WatchUnits: the manager keeps
// the stream open over the current set of companion units (reopened when it changes or
// breaks), and the changes go to add, the supervisor's own per-unit queue, so that their
// passes are reported (WatchUnits' own passes report to nobody).
func relayUnits(w UnitWatcher, add func(unit string)) func(ctx context.Context, units []string) (<-chan string, error) {
	return func(ctx context.Context, units []string) (<-chan string, error) {
		in, err := w.UnitChanges(ctx, units)
		if err != nil {
			return nil, err
		}
		out := make(chan string)
		go func() {
			defer close(out) // tells WatchUnits the stream ended: it reopens it unless ctx ended
			for unit := range in {
				add(unit)
			}
		}()
		return out, nil
	}
}

// eventSource returns rt's event stream, or, for a runtime without one, a stream without
// events (keeping rt's exit waits): WatchEvents then still runs the exit waits and checks.
func eventSource(rt runtime.Runtime) runtime.EventSource {
	if src, ok := rt.(runtime.EventSource); ok {
		return src
	}
	if w, ok := rt.(runtime.ExitWaiter); ok {
		return struct {
			noEvents
			runtime.ExitWaiter
		}{noEvents{}, w}
	}
	return noEvents{}
}

// noEvents is an event stream that stays silent until its context ends.
type noEvents struct{}

func (noEvents) Events(ctx context.Context) (<-chan runtime.Event, error) {
	ch := make(chan runtime.Event)
	context.AfterFunc(ctx, func() { close(ch) })
	return ch, nil
}
