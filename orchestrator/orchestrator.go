// Package orchestrator owns the lifecycle of apps: the pure state machine Decide (desired state
// plus observation plus facts -> one action) and the Orchestrator, the thin imperative shell
// that observes a runtime.Runtime, runs pre-start hooks, executes the decided action and waits
// for health before it reports success.
package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/runtime"
)

// Errors returned by the Orchestrator; test them with errors.Is.
var (
	// ErrUnknownApp: the app was never installed (or was uninstalled).
	ErrUnknownApp = errors.New("unknown app")
	// ErrNotReady: a started container died, turned unhealthy or stayed unready past its
	// ReadyTimeout: "running but unreachable" is reported as this, never as success.
	ErrNotReady = errors.New("app did not become ready")
	// ErrWaiting: the app cannot be started yet (a dependency is not ready).
	ErrWaiting = errors.New("app is waiting")
	// ErrConflict: a container of the app's name exists that skerry did not create and cannot
	// adopt; skerry leaves it alone.
	ErrConflict = errors.New("container conflict")
	// ErrRolledBack: an upgrade (a changed spec) did not become ready and the app was put back
	// on its last spec that was; the error also wraps the upgrade's failure.
	ErrRolledBack = errors.New("upgrade rolled back")
)

// Companions is what the orchestrator needs from the companion manager: companions are brought
// up once their app is ready and disabled before their app's container is removed (so that
// systemd's Restart=always cannot respawn them against a missing app).
type Companions interface {
	Install(ctx context.Context, app string) error
	Remove(ctx context.Context, app string) error
}

// Options configure an Orchestrator. The zero value is usable.
type Options struct {
	// Logger receives structured logs (default: slog.Default()).
	Logger *slog.Logger
	// Workers bounds how many apps a pass handles in parallel (default 4).
	Workers int
	// Companions, when set, is told about installs and uninstalls.
	Companions Companions
	// Prober returns the host-side prober of an HTTP or TCP check (default health.ProberFor);
	// a seam for tests.
	Prober func(health.Check) health.Prober
	// PruneOrphans removes managed containers of apps this orchestrator does not know. Off by
	// default: a daemon that restarts with an empty app list must not delete the node's apps.
	PruneOrphans bool
	// ScheduleExecChecks makes skerry, not the engine, decide when exec checks run. Containers
	// are created with a check the engine runs only when asked (interval 0: podman then creates
	// no systemd timer per container and runs no `podman healthcheck run` process per check).
	// WatchEvents runs each running app's check on its Interval over the runtime's API, and a
	// pass runs the check of a running app that has no verdict yet. The engine still records
	// every result, so passes read health as before.
	//
	// On podman this makes starts much cheaper and idle checks far cheaper for the node (see
	// BENCHMARKS.md), at a price: checks run only while WatchEvents runs (a daemon that does not
	// call it never sees an app turn unhealthy), and not while the daemon is down. The container
	// spec changes with it, so switching it recreates every app with an exec check at the next
	// pass.
	ScheduleExecChecks bool
	// Secrets stores the apps' secrets and fingerprints their rendered files (see Inputs);
	// required by apps with Secrets or with hook outputs that name consumers. The podman
	// runtime is one: Options{Secrets: rt}.
	Secrets runtime.SecretStore
}

// Orchestrator keeps apps in their desired state on a runtime. Operations on one app are
// serialized; different apps proceed in parallel. It is safe for concurrent use.
type Orchestrator struct {
	rt   runtime.Runtime
	opts Options
	log  *slog.Logger

	mu   sync.Mutex
	apps map[string]*appState
	// watches are the per-app watches of the running WatchEvents, if any.
	watches []*appWatch
	// starts counts starting actions in flight; readiness checks wait for them.
	starts startsInFlight
}

// appState is the orchestrator's memory of one app. lock serializes operations on the app;
// the fields below it are read and written only by its holder.
type appState struct {
	lock chan struct{}

	app     App
	spec    runtime.ContainerSpec
	desired bool
	purge   bool
	backoff Backoff
	tracker health.Tracker
	// generation counts actions taken; a pass re-inspects an app whose generation moved since
	// its List call. Written by the lock holder under o.mu.
	generation uint64
	// seen is the state and health last observed, read by dependants. Written by the lock
	// holder under o.mu, like desired.
	seen seen
	// lastGood is the last app spec seen running and ready: the target of a rollback.
	lastGood *App
}

type seen struct {
	state  runtime.State
	health runtime.Health
}

// New returns an Orchestrator over rt.
func New(rt runtime.Runtime, opts Options) *Orchestrator {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Prober == nil {
		opts.Prober = health.ProberFor
	}
	return &Orchestrator{rt: rt, opts: opts, log: opts.Logger, apps: map[string]*appState{}}
}

func (s *appState) acquire(ctx context.Context) error {
	select {
	case s.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *appState) release() { <-s.lock }

// state returns the state of name, creating it when create is set.
func (o *Orchestrator) state(name string, create bool) *appState {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.apps[name]
	if s == nil && create {
		s = &appState{lock: make(chan struct{}, 1)}
		s.app.Name, s.spec.Name = name, name
		o.apps[name] = s
	}
	return s
}

// Apps returns the names of the apps the orchestrator wants installed, sorted.
func (o *Orchestrator) Apps() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for name, s := range o.apps {
		if s.desired { // desired is written under o.mu (and the app's lock)
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Register records app as desired without acting; the next pass brings it up. A daemon calls it
// for every app at start-up, before the reconciler's first pass. It validates app first.
func (o *Orchestrator) Register(ctx context.Context, app App) error {
	return o.RegisterAll(ctx, app)
}

// RegisterAll registers apps as a set: dependencies may point at each other in any order. It
// validates every app and the dependency graph (unknown dependencies, cycles) first, and
// registers nothing when any problem is found.
func (o *Orchestrator) RegisterAll(ctx context.Context, apps ...App) error {
	extra := make(map[string]App, len(apps))
	var errs []error
	for _, a := range apps {
		if err := a.Validate(); err != nil {
			errs = append(errs, err)
		}
		if _, dup := extra[a.Name]; dup {
			errs = append(errs, fmt.Errorf("app %q is listed twice: %w", a.Name, runtime.ErrInvalidSpec))
		}
		extra[a.Name] = a
	}
	if len(errs) == 0 {
		o.mu.Lock()
		for _, a := range apps {
			if err := o.checkGraph(a, extra); err != nil {
				errs = append(errs, err)
			}
		}
		o.mu.Unlock()
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, a := range apps {
		s := o.state(a.Name, true)
		if err := s.acquire(ctx); err != nil {
			return err
		}
		err := o.setDesired(s, a, extra)
		s.release()
		if err != nil {
			return err
		}
	}
	return nil
}

// setDesired records app as desired after checking its dependency graph again under the lock
// (another registration may have raced). The caller holds s.lock.
func (o *Orchestrator) setDesired(s *appState, app App, extra map[string]App) error {
	if err := o.checkInputs(app); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.checkGraph(app, extra); err != nil {
		return err
	}
	s.app, s.spec, s.desired, s.purge = app, o.specOf(app), true, false
	return nil
}

// Install makes app desired and brings it up now: hooks, then create or repair the container,
// then wait until it is healthy, then its companions. It is idempotent: Install twice has the
// effect of Install once, and an existing container in any state is repaired, not duplicated.
// An explicit Install ignores the crash-loop backoff. A validation error returns before any side
// effect; a failed start returns an error wrapping ErrNotReady.
func (o *Orchestrator) Install(ctx context.Context, app App) (AppReport, error) {
	if err := app.Validate(); err != nil {
		return AppReport{App: app.Name, Err: err}, err
	}
	s := o.state(app.Name, true)
	if err := s.acquire(ctx); err != nil {
		return AppReport{App: app.Name, Err: err}, err
	}
	defer s.release()
	if err := o.setDesired(s, app, nil); err != nil {
		return AppReport{App: app.Name, Err: err}, err
	}
	return o.ensure(ctx, s, nil, true)
}

// EnsureRunning brings an installed app to Running and healthy now, as Install does.
func (o *Orchestrator) EnsureRunning(ctx context.Context, name string) (AppReport, error) {
	s := o.state(name, false)
	if s == nil {
		err := fmt.Errorf("ensure %q: %w", name, ErrUnknownApp)
		return AppReport{App: name, Err: err}, err
	}
	if err := s.acquire(ctx); err != nil {
		return AppReport{App: name, Err: err}, err
	}
	defer s.release()
	if !s.desired {
		err := fmt.Errorf("ensure %q: %w", name, ErrUnknownApp)
		return AppReport{App: name, Err: err}, err
	}
	return o.ensure(ctx, s, nil, true)
}

// UninstallOptions tune Uninstall.
type UninstallOptions struct {
	// Purge also removes the container's named volumes. Off by default: data survives.
	Purge bool
}

// Uninstall makes the app undesired and removes it now: companions are disabled first, then the
// container is stopped and removed. Volumes are kept unless opts.Purge. Uninstalling an app that
// is not there is not an error. If removal fails, the next pass retries it.
func (o *Orchestrator) Uninstall(ctx context.Context, name string, opts UninstallOptions) (AppReport, error) {
	var p runtime.Problems
	runtime.ValidateName(&p, "Name", name)
	if err := p.Err(fmt.Sprintf("app %q", name)); err != nil {
		return AppReport{App: name, Err: err}, err
	}
	s := o.state(name, true)
	if err := s.acquire(ctx); err != nil {
		return AppReport{App: name, Err: err}, err
	}
	defer s.release()
	o.publish(func() { s.desired, s.purge = false, opts.Purge })
	return o.ensure(ctx, s, nil, true)
}

// publish runs f, which writes appState fields that other goroutines read, under o.mu.
func (o *Orchestrator) publish(f func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f()
}

// forget drops an uninstalled app's memory once its container is gone.
func (o *Orchestrator) forget(s *appState) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !s.desired && o.apps[s.spec.Name] == s {
		delete(o.apps, s.spec.Name)
	}
}

func (o *Orchestrator) observe(ctx context.Context, name string) (runtime.Observation, error) {
	obs, err := o.rt.Inspect(ctx, name)
	if errors.Is(err, runtime.ErrNotFound) {
		return runtime.Missing(name), nil
	}
	if err != nil {
		return obs, fmt.Errorf("inspect %s: %w", name, err)
	}
	return obs, nil
}

// waitingFor names the first dependency of s that is not ready, "" when all are, and whether
// that dependency asks its dependants to stop.
func (o *Orchestrator) waitingFor(s *appState) (string, bool) {
	if !s.desired {
		return "", false
	}
	for _, d := range s.app.DependsOn {
		dep := o.state(d.App, false)
		if dep == nil {
			return d.App + " (not installed)", d.StopOnFailure
		}
		o.mu.Lock()
		st, h, desired := dep.seen.state, dep.seen.health, dep.desired
		o.mu.Unlock()
		switch {
		case !desired:
			return d.App + " (not installed)", d.StopOnFailure
		case st != runtime.StateRunning:
			return d.App + " (" + st.String() + ")", d.StopOnFailure
		case d.Condition == Healthy && h != runtime.HealthHealthy && h != runtime.HealthNone:
			return d.App + " (" + h.String() + ")", d.StopOnFailure
		}
	}
	return "", false
}

// snapshot returns the states to reconcile, their generations and their dependencies.
func (o *Orchestrator) snapshot() (map[string]*appState, map[string]uint64, map[string][]string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	states := maps.Clone(o.apps)
	gens := make(map[string]uint64, len(states))
	deps := make(map[string][]string, len(states))
	for name, s := range states {
		gens[name] = s.generation
		deps[name] = nil
		if s.desired {
			for _, d := range s.app.DependsOn {
				deps[name] = append(deps[name], d.App)
			}
		}
	}
	return states, gens, deps
}

// checkGraph validates app's dependencies against the registered apps plus extra (apps being
// registered together): every dependency must be known and no cycle may form. Called with o.mu
// held.
func (o *Orchestrator) checkGraph(app App, extra map[string]App) error {
	depsOf := func(name string) []Dependency {
		if name == app.Name {
			return app.DependsOn
		}
		if a, ok := extra[name]; ok {
			return a.DependsOn
		}
		if s := o.apps[name]; s != nil && s.desired {
			return s.app.DependsOn
		}
		return nil
	}
	known := func(name string) bool {
		_, inExtra := extra[name]
		s := o.apps[name]
		return name == app.Name || inExtra || (s != nil && s.desired)
	}
	var p runtime.Problems
	for i, d := range app.DependsOn {
		if !known(d.App) {
			p.Add(fmt.Sprintf("DependsOn[%d]", i), "%q is not a registered app", d.App)
		}
	}
	// Depth-first search for a path from any dependency back to app.
	var cycle []string
	var visit func(name string, path []string, seen map[string]bool) bool
	visit = func(name string, path []string, seen map[string]bool) bool {
		if name == app.Name && len(path) > 0 {
			cycle = append(path, name)
			return true
		}
		if seen[name] {
			return false
		}
		seen[name] = true
		for _, d := range depsOf(name) {
			if visit(d.App, append(path, name), seen) {
				return true
			}
		}
		return false
	}
	if visit(app.Name, nil, map[string]bool{}) {
		p.Add("DependsOn", "dependency cycle: %s", strings.Join(cycle, " -> "))
	}
	return p.Err(fmt.Sprintf("app %q", app.Name))
}
