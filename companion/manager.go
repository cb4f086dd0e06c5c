package companion

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/skerry-dev/skerry/internal/tagcache"
	"github.com/skerry-dev/skerry/quadlet"
	"github.com/skerry-dev/skerry/runtime"
)

// Errors; test them with errors.Is.
var (
	// ErrImageUnavailable: a companion's image is not present, has no local build, and could not
	// be pulled. The error also wraps the pull's failure.
	ErrImageUnavailable = errors.New("companion image unavailable")
	// ErrRolledBack is runtime.ErrRolledBack, the one sentinel of a rolled back upgrade: changed
	// companions did not come up and the previous unit files were restored; the error also wraps
	// the failure.
	ErrRolledBack = runtime.ErrRolledBack
	// ErrConflict: a companion's unit file exists and skerry did not write it (it lacks the
	// ownership marker). skerry never touches such a file; the companion is not installed.
	ErrConflict = errors.New("companion unit file not written by skerry")
	// ErrPending: a companion must be restarted onto its new file (or image), and its unit is in
	// the middle of a start or a stop, which a pass leaves alone; the unit's next state change,
	// or the next pass, restarts it. It is no failure of the companion: Install does not roll
	// back for it.
	ErrPending = errors.New("companion restart pending")
)

// Units is what the manager needs from systemd (quadlet/systemd over D-Bus, quadlet/fake in
// tests).
type Units interface {
	// Reload is a daemon-reload: it re-runs the Quadlet generator.
	Reload(ctx context.Context) error
	Start(ctx context.Context, unit string) error
	// Stop stops unit; stopping a unit systemd does not know is not an error.
	Stop(ctx context.Context, unit string) error
	Restart(ctx context.Context, unit string) error
	ResetFailed(ctx context.Context, unit string) error
	// Unit returns unit's state with NeedDaemonReload and NRestarts; a unit systemd does not
	// know has LoadState "not-found".
	Unit(ctx context.Context, unit string) (quadlet.UnitState, error)
}

// Options configure a Manager.
type Options struct {
	// Dir is the Quadlet unit directory (default quadlet.UserDir(): ~/.config/containers/systemd).
	// The manager owns the files in it that carry its ownership marker, and no other.
	Dir string
	// Target is the podman version units are rendered for (default quadlet.Podman542), with
	// Downgrade rendering newer keys as PodmanArgs.
	Target    quadlet.Version
	Downgrade bool
	// InsecureRegistries lists registries ("registry.local:5000") that are pulled from with TLS
	// verification off. Images from any other registry are pulled with TLS verification.
	InsecureRegistries []string
	// PruneOrphans removes companions of apps this manager does not know (no Register, no
	// Remove since it started). Off by default: they are reported as orphans and left running,
	// so that a daemon started with an empty app list removes nothing.
	PruneOrphans bool
	// OnPull, when set, is told how the pulls the manager makes for a companion's missing
	// image advance (app, companion name): every progress update the engine reports
	// (runtime.PullOptions.Progress), then once with done set when the pull ended, whatever its
	// outcome. It is called from the pulling goroutine and must not block.
	OnPull func(app, companion string, p runtime.PullProgress, done bool)
	// ImageRecheck is how long a pass trusts what a companion's image tag was last resolved to
	// before it resolves it again, to notice a tag moved behind skerry's back and restart the
	// companion onto the tag's new image (see tags.go). Default DefaultImageRecheck (the
	// orchestrator's); negative: tags are never resolved, a moved tag is no drift. Needs an
	// images argument of New that is a runtime.ImageResolver and lists containers.
	ImageRecheck time.Duration
	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger
}

// Manager installs, removes and reconciles companions. Its unit directory is the truth: every
// pass reads it, recognizes the units it wrote by their ownership marker, and converges them on
// what is registered, so that a crash at any step, or a restart with a changed app list, leaves
// nothing behind. It is safe for concurrent use; its operations are serialized, and one that
// waits for another gives up with its ctx's error when its ctx ends.
type Manager struct {
	units  Units
	images runtime.Images
	opts   Options
	log    *slog.Logger

	// op serializes Install, Remove and Reconcile: a one-slot semaphore, taken with lock so
	// that a caller whose ctx ends stops waiting (a pull can hold it for minutes).
	op   chan struct{}
	mu   sync.Mutex // guards apps, good, removing and watched
	apps map[string][]rendered
	// good holds, per app, the companions last installed successfully: a rollback's target.
	good map[string][]rendered
	// removing holds the apps whose Remove has not completed: their units are removed by every
	// pass until it does, or until they are registered again.
	removing map[string]bool
	// watched is the sorted set of every app's companion units; watchedChanged is closed (and
	// replaced) when it changes, so that WatchUnits watches the new set.
	watched        []string
	watchedChanged chan struct{}
	// inputs holds each companion's inputs digest, by name (see inputs.go).
	inputs map[string]string
	// tags caches what the companions' image tags named when last resolved (tags.go).
	tags tagcache.Cache
}

// rendered is a validated companion of app with its unit file's bytes (marker included).
type rendered struct {
	app  string
	spec Spec
	data []byte
}

func (r rendered) unit() string { return quadlet.ServiceName(r.spec.Name) }

// New returns a manager over units (systemd) and images (the container engine).
func New(units Units, images runtime.Images, opts Options) (*Manager, error) {
	if opts.Dir == "" {
		dir, err := quadlet.UserDir()
		if err != nil {
			return nil, fmt.Errorf("companion: unit directory: %w", err)
		}
		opts.Dir = dir
	}
	if opts.Target == (quadlet.Version{}) {
		opts.Target = quadlet.Podman542
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ImageRecheck == 0 {
		opts.ImageRecheck = DefaultImageRecheck
	}
	return &Manager{units: units, images: images, opts: opts, log: opts.Logger,
		apps: map[string][]rendered{}, good: map[string][]rendered{}, removing: map[string]bool{},
		watchedChanged: make(chan struct{}), op: make(chan struct{}, 1)}, nil
}

// lock takes m.op, or returns ctx's error when ctx ends first. A ctx that has ended never gets
// it.
func (m *Manager) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case m.op <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *Manager) unlock() { <-m.op }

// Register records app's companions, replacing earlier ones: the next Install or pass removes
// those of app's companions that specs no longer lists (an app registered with no specs keeps
// none). It validates and renders every spec first and changes nothing when any is invalid; it
// touches no file and no unit.
func (m *Manager) Register(app string, specs ...Spec) error {
	var p runtime.Problems
	runtime.ValidateName(&p, "App", app)
	names := map[string]bool{}
	for i, s := range specs {
		prefix := fmt.Sprintf("Companions[%d].", i)
		s.validate(&p, prefix)
		if names[s.Name] {
			p.Add(prefix+"Name", "%q is used twice", s.Name)
		}
		names[s.Name] = true
	}
	if err := p.Err(fmt.Sprintf("companions of %q", app)); err != nil {
		return err
	}
	out := make([]rendered, 0, len(specs))
	var errs []error
	for _, s := range specs {
		s.inputs = m.inputsOf(s.Name)
		data, err := quadlet.Render(s.Name, s.Unit(app), quadlet.Options{Target: m.opts.Target, Downgrade: m.opts.Downgrade})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, rendered{app: app, spec: s, data: append([]byte(marker(app)), data...)})
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for other, rs := range m.apps {
		for _, r := range rs {
			if names[r.spec.Name] && other != app {
				return fmt.Errorf("companion %q already belongs to app %q: %w", r.spec.Name, other, runtime.ErrInvalidSpec)
			}
		}
	}
	m.apps[app] = out
	delete(m.removing, app)
	m.noteUnits()
	return nil
}

// desired returns a snapshot of the registered companions by name, and the known apps
// (registered, possibly with no companion) and the apps being removed.
func (m *Manager) desired() (want map[string]rendered, known, removing map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	want, known, removing = map[string]rendered{}, map[string]bool{}, map[string]bool{}
	for app, rs := range m.apps {
		known[app] = true
		for _, r := range rs {
			want[r.spec.Name] = r
		}
	}
	for app := range m.removing {
		removing[app] = true
	}
	return want, known, removing
}
