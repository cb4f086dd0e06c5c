// Package orchestrator owns the lifecycle of apps: the pure state machine Decide (desired state
// plus observation plus facts -> one action) and the Orchestrator, the thin imperative shell
// that observes a runtime.Runtime, runs pre-start hooks, executes the decided action and waits
// for health before it reports success. An upgrade never removes a working container before
// its replacement is ready, and a failed one is rolled back and held across daemon restarts
// (see Rollback).
package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/internal/tagcache"
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
	// on the release it ran before; the error also wraps the upgrade's failure. It is
	// runtime.ErrRolledBack, the one sentinel the companion manager returns too.
	ErrRolledBack = runtime.ErrRolledBack
	// ErrInterrupted: the operation's context ended before it was done (a daemon shutting
	// down). What it did so far is left as it is, never rolled back or reported as success;
	// the next operation on the app judges it afresh. The error also wraps the context's error.
	ErrInterrupted = errors.New("interrupted")
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
	// Secrets stores the apps' secrets and fingerprints their rendered files (see Secret);
	// required by apps with Secrets or with hook outputs that name consumers. The podman
	// runtime is one: Options{Secrets: rt}.
	Secrets runtime.SecretStore
	// CheckTimers, when set, lets passes remove podman's health-check timers that outlived
	// their containers (at the first pass, then every TimerSweepInterval; see CheckTimers).
	CheckTimers CheckTimers
	// SnapshotDir is the absolute directory, on the engine's host, where the volumes apps mark
	// (App.SnapshotVolumes) are snapshotted before an upgrade, one subdirectory per app;
	// created when missing. Required by apps that mark volumes.
	SnapshotDir string
	// ImageRecheck is how long a pass trusts what an app's image tag was last resolved to
	// before it resolves it again, to notice a tag moved behind skerry's back (a pull or build
	// by hand) and upgrade the app onto the tag's new image (see TagMoved). Default
	// DefaultImageRecheck; negative: tags are never resolved, a moved tag is no drift. Tags
	// skerry pulls itself, and new ones, are resolved at once. Needs a runtime.ImageResolver.
	ImageRecheck time.Duration
	// OnPull, when set, is told how the pulls skerry makes for an app's missing image advance:
	// every progress update the runtime reports (runtime.PullOptions.Progress), then once with
	// done set when the pull ended, whatever its outcome. It is called from the pulling
	// goroutine and must not block.
	OnPull func(app string, p runtime.PullProgress, done bool)
	// KeepImages turns image pruning off. By default the images of managed apps that no
	// container uses any more (an upgrade's previous release, what a moved tag left behind) are
	// removed after a committed upgrade; never an image a container uses (the running release,
	// <app>.PREV, <app>.FAILED) nor one that is not a managed app's (see prune.go). On by
	// default: a node that upgrades its apps would otherwise fill its disk with old releases,
	// and a rollback needs only the images that the release records keep in use.
	KeepImages bool
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
	// nextSweep is when the next pass looks for stray check timers.
	nextSweep time.Time
	// netSweep says when a pass looks for owned networks to remove (see network_apply.go).
	netSweep networkSweep
	// tags caches what the apps' image tags name (see tags.go).
	tags tagcache.Cache
	// prune is set when images may have been left unused; pruned once a pass considered it
	// (see prune.go).
	prune, pruned atomic.Bool
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
	// good is the last app spec seen running and ready (see release.go).
	good *App
	// recs are the app's release records on the host, hold its rollback (see release.go).
	// Written by the lock holder under o.mu.
	recs records
	hold *hold
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
	if opts.ImageRecheck == 0 {
		opts.ImageRecheck = DefaultImageRecheck
	}
	return &Orchestrator{rt: rt, opts: opts, log: opts.Logger, apps: map[string]*appState{}}
}

// acquire takes the app's lock, or fails with an error wrapping ErrInterrupted when ctx ends
// first. A ctx that has ended never gets the lock.
func (s *appState) acquire(ctx context.Context) error {
	if ctx.Err() != nil {
		return interrupted(ctx)
	}
	select {
	case s.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return interrupted(ctx)
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
