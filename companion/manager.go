package companion

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/skerry-dev/skerry/quadlet"
	"github.com/skerry-dev/skerry/reconciler"
	"github.com/skerry-dev/skerry/runtime"
)

// Errors; test them with errors.Is.
var (
	// ErrImageUnavailable: a companion's image is not present, has no local build, and its
	// registry is not whitelisted for pulls.
	ErrImageUnavailable = errors.New("companion image unavailable")
	// ErrRolledBack: changed companions did not come up and the previous unit files were
	// restored; the error also wraps the failure.
	ErrRolledBack = errors.New("companion upgrade rolled back")
)

// Units is what the manager needs from systemd (quadlet/systemd over D-Bus, quadlet/fake in
// tests).
type Units interface {
	Reload(ctx context.Context) error
	Start(ctx context.Context, unit string) error
	Stop(ctx context.Context, unit string) error
	Restart(ctx context.Context, unit string) error
	ResetFailed(ctx context.Context, unit string) error
	States(ctx context.Context, units []string) (map[string]quadlet.UnitState, error)
}

// Options configure a Manager.
type Options struct {
	// Dir is the Quadlet unit directory (default quadlet.UserDir(): ~/.config/containers/systemd).
	Dir string
	// Target is the podman version units are rendered for (default quadlet.Podman542), with
	// Downgrade rendering newer keys as PodmanArgs.
	Target    quadlet.Version
	Downgrade bool
	// InsecureRegistries lists registries ("registry.local:5000") a missing image may be pulled
	// from, with TLS verification off. Images from anywhere else must be present or built.
	InsecureRegistries []string
	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger
}

// Manager installs, removes and reconciles companions. It is safe for concurrent use; its
// operations are serialized.
type Manager struct {
	units  Units
	images runtime.Images
	opts   Options
	log    *slog.Logger

	op   sync.Mutex // serializes Install, Remove, Reconcile
	mu   sync.Mutex // guards apps, good and watched
	apps map[string][]rendered
	// good holds, per app, the companions last installed successfully: a rollback's target.
	good map[string][]rendered
	// watched is the sorted set of every app's companion units; watchedChanged is closed (and
	// replaced) when it changes, so that WatchUnits watches the new set.
	watched        []string
	watchedChanged chan struct{}
}

// rendered is a validated companion with its unit file's bytes.
type rendered struct {
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
	return &Manager{units: units, images: images, opts: opts, log: opts.Logger,
		apps: map[string][]rendered{}, good: map[string][]rendered{}, watchedChanged: make(chan struct{})}, nil
}

// Register records app's companions, replacing earlier ones. It validates and renders every
// spec first and changes nothing when any is invalid; it touches no file and no unit.
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
		data, err := quadlet.Render(s.Name, s.Unit(app), quadlet.Options{Target: m.opts.Target, Downgrade: m.opts.Downgrade})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, rendered{spec: s, data: data})
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
	if len(out) == 0 {
		delete(m.apps, app)
	} else {
		m.apps[app] = out
	}
	m.noteUnits()
	return nil
}

func (m *Manager) companions(app string) []rendered {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.apps[app]
}

// Install brings app's companions up: images present (local, then a local build, then a pull
// from a whitelisted registry), unit files written when their bytes changed, one daemon-reload
// when anything changed, then each service started (or restarted when its file changed while it
// ran). It is idempotent; an app without companions is a no-op. When changed companions fail to
// come up and an earlier set did, the earlier unit files are restored and restarted, and the
// error wraps ErrRolledBack.
func (m *Manager) Install(ctx context.Context, app string) error {
	m.op.Lock()
	defer m.op.Unlock()
	rs := m.companions(app)
	if len(rs) == 0 {
		return nil
	}
	for _, r := range rs {
		if err := m.ensureImage(ctx, r.spec); err != nil {
			return err
		}
	}
	changed, err := m.write(rs)
	if err == nil {
		_, err = m.converge(ctx, rs, len(changed) > 0, changed)
	}
	m.mu.Lock()
	good := m.good[app]
	if err == nil {
		m.good[app] = rs
	}
	m.mu.Unlock()
	if err == nil || len(changed) == 0 || good == nil {
		return err
	}
	return m.rollback(ctx, app, rs, good, err)
}

// write writes the unit files of rs and returns the units whose file changed.
func (m *Manager) write(rs []rendered) (map[string]bool, error) {
	changed := map[string]bool{}
	for _, r := range rs {
		c, err := quadlet.WriteIfChanged(m.path(r), r.data, 0o644)
		if err != nil {
			return changed, fmt.Errorf("companion %s: %w", r.spec.Name, err)
		}
		if c {
			changed[r.unit()] = true
		}
	}
	return changed, nil
}

// rollback restores the unit files of good after the companions rs failed, removes those of rs
// that good does not have, and brings good up again; the registered companions revert to good.
func (m *Manager) rollback(ctx context.Context, app string, rs, good []rendered, cause error) error {
	m.log.Warn("companions did not come up; restoring the previous unit files", "app", app, "err", cause)
	keep := map[string]bool{}
	for _, r := range good {
		keep[r.unit()] = true
	}
	for _, r := range rs {
		if !keep[r.unit()] {
			_ = m.units.Stop(ctx, r.unit())
			if _, err := quadlet.Remove(m.path(r)); err != nil {
				return fmt.Errorf("companions of %s: %w; rollback: %w", app, cause, err)
			}
		}
	}
	restored, err := m.write(good)
	if err == nil {
		_, err = m.converge(ctx, good, true, restored)
	}
	if err != nil {
		return fmt.Errorf("companions of %s: %w; rollback failed too: %w", app, cause, err)
	}
	m.mu.Lock()
	m.apps[app] = good
	m.noteUnits()
	m.mu.Unlock()
	return fmt.Errorf("companions of %s: %w: %w", app, cause, ErrRolledBack)
}

// unitReport is the outcome for one unit of converge.
type unitReport struct {
	action string
	state  quadlet.UnitState
	err    error
}

// converge reloads when asked (a file changed), then starts what is inactive and restarts what
// runs on a file whose content changed.
func (m *Manager) converge(ctx context.Context, rs []rendered, reload bool, restart map[string]bool) (map[string]unitReport, error) {
	out := make(map[string]unitReport, len(rs))
	if reload {
		if err := m.units.Reload(ctx); err != nil {
			return out, fmt.Errorf("companion: %w", err)
		}
	}
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.unit()
	}
	states, err := m.units.States(ctx, names)
	if err != nil {
		return out, fmt.Errorf("companion: %w", err)
	}
	var errs []error
	for _, name := range names {
		st := states[name]
		rep := unitReport{state: st, action: "none"}
		switch {
		case st.ActiveState == "deactivating":
			// A stop is in flight (a user's, systemd's or ours): starting now would cancel its
			// job. The unit's next state change, or the next pass, decides.
		case st.Active() && restart[name]:
			rep.action, rep.err = "restarted", m.units.Restart(ctx, name)
		case !st.Active():
			if st.ActiveState == "failed" {
				if err := m.units.ResetFailed(ctx, name); err != nil {
					m.log.Warn("reset-failed", "unit", name, "err", err)
				}
			}
			rep.action, rep.err = "started", m.units.Start(ctx, name)
		}
		if rep.action != "none" {
			m.log.Info("companion", "unit", name, "was", st.ActiveState, "action", rep.action, "err", rep.err)
		}
		if rep.err != nil {
			errs = append(errs, fmt.Errorf("companion %s: %w", name, rep.err))
		}
		out[name] = rep
	}
	return out, errors.Join(errs...)
}

// Remove disables app's companions: each service is stopped first (so that Restart=always
// cannot respawn it), then the unit files are deleted and the manager reloaded. The companions
// are forgotten, so Reconcile does not bring them back.
func (m *Manager) Remove(ctx context.Context, app string) error {
	m.op.Lock()
	defer m.op.Unlock()
	rs := m.companions(app)
	var errs []error
	for _, r := range rs {
		if err := m.units.Stop(ctx, r.unit()); err != nil {
			errs = append(errs, fmt.Errorf("companion %s: %w", r.spec.Name, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...) // keep the files: a stopped unit may still be respawned by a retry
	}
	removed := false
	for _, r := range rs {
		ok, err := quadlet.Remove(m.path(r))
		if err != nil {
			return fmt.Errorf("companion %s: %w", r.spec.Name, err)
		}
		removed = removed || ok
	}
	if removed {
		if err := m.units.Reload(ctx); err != nil {
			return fmt.Errorf("companion: %w", err)
		}
	}
	for _, r := range rs {
		_ = m.units.ResetFailed(ctx, r.unit())
	}
	m.mu.Lock()
	delete(m.apps, app)
	delete(m.good, app)
	m.noteUnits()
	m.mu.Unlock()
	return nil
}

// UnitReport is the outcome of one companion unit in a Reconcile pass.
type UnitReport struct {
	App  string
	Unit string
	// Rewritten reports that the unit file was missing or tampered with and was rewritten.
	Rewritten bool
	// Action is "none", "started" or "restarted".
	Action string
	// State is the unit's state before the action.
	State quadlet.UnitState
	Err   error
}

// Reconcile checks every registered companion: a missing or tampered unit file is rewritten
// (one daemon-reload for all), an inactive or failed service is started, a running service
// whose file was tampered with is restarted. Unit states are read in one call. It never stops
// at a failing unit; the returned reports are sorted by unit.
func (m *Manager) Reconcile(ctx context.Context) []UnitReport {
	return m.reconcile(ctx, func(string) bool { return true })
}

// ReconcileUnit is Reconcile for one unit ("bitcoind-ui.service"): what a change of that
// unit's state triggers. A unit that is not a registered companion is ignored (nil).
func (m *Manager) ReconcileUnit(ctx context.Context, unit string) []UnitReport {
	return m.reconcile(ctx, func(u string) bool { return u == unit })
}

// WatchUnits reacts to unit state changes until ctx ends: a change of a companion's unit
// (stopped by hand, failed, gone) queues a pass over that unit alone, coalesced, and a broken
// stream is reopened with backoff. changes opens a stream of the changes of the given units; it
// is typically (*systemd.Manager).UnitChanges. The stream is reopened over the new set of
// units when companions are registered or removed. Respawns under Restart= are left to systemd
// and its RestartSec. The periodic Reconcile stays the safety net.
func (m *Manager) WatchUnits(ctx context.Context, changes func(ctx context.Context, units []string) (<-chan string, error)) {
	keyed := reconciler.NewKeyed(func(ctx context.Context, unit string) { m.ReconcileUnit(ctx, unit) },
		reconciler.KeyedOptions{Workers: 1, Logger: m.log})
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { keyed.Run(ctx) })
	for ctx.Err() == nil {
		units, changed := m.watchedUnits()
		setCtx, cancel := context.WithCancel(ctx)
		wg.Go(func() {
			select {
			case <-changed:
			case <-setCtx.Done():
			}
			cancel()
		})
		if len(units) > 0 {
			reconciler.Watch(setCtx, func(ctx context.Context) (<-chan string, error) { return changes(ctx, units) },
				func(unit string) {
					if m.isCompanion(unit) {
						keyed.Add(unit)
					}
				}, reconciler.WatchOptions{Logger: m.log})
		}
		<-setCtx.Done()
		cancel()
	}
}

// watchedUnits returns the companion units to watch and a channel closed when they change.
func (m *Manager) watchedUnits() ([]string, <-chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.watched, m.watchedChanged
}

// noteUnits refreshes watched after apps changed. Called with m.mu held.
func (m *Manager) noteUnits() {
	var units []string
	for _, rs := range m.apps {
		for _, r := range rs {
			units = append(units, r.unit())
		}
	}
	slices.Sort(units)
	if slices.Equal(units, m.watched) {
		return
	}
	m.watched = units
	close(m.watchedChanged)
	m.watchedChanged = make(chan struct{})
}

func (m *Manager) isCompanion(unit string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, rs := range m.apps {
		for _, r := range rs {
			if r.unit() == unit {
				return true
			}
		}
	}
	return false
}

func (m *Manager) reconcile(ctx context.Context, want func(unit string) bool) []UnitReport {
	m.op.Lock()
	defer m.op.Unlock()
	m.mu.Lock()
	var all []rendered
	appOf := map[string]string{}
	for app, rs := range m.apps {
		for _, r := range rs {
			if want(r.unit()) {
				all = append(all, r)
				appOf[r.unit()] = app
			}
		}
	}
	m.mu.Unlock()
	if len(all) == 0 {
		return nil
	}
	slices.SortFunc(all, func(a, b rendered) int { return strings.Compare(a.spec.Name, b.spec.Name) })

	reports := make([]UnitReport, 0, len(all))
	changed := map[string]bool{} // file rewritten
	restart := map[string]bool{} // rewritten over different content: a running service must restart
	fileErr := map[string]error{}
	for _, r := range all {
		old, err := os.ReadFile(m.path(r))
		if err == nil && bytes.Equal(old, r.data) {
			continue
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			fileErr[r.unit()] = err
			continue
		}
		if _, err := quadlet.WriteIfChanged(m.path(r), r.data, 0o644); err != nil {
			fileErr[r.unit()] = err
			continue
		}
		changed[r.unit()] = true
		restart[r.unit()] = old != nil
	}
	results, err := m.converge(ctx, all, len(changed) > 0, restart)
	if err != nil && len(results) == 0 {
		for _, r := range all {
			reports = append(reports, UnitReport{App: appOf[r.unit()], Unit: r.unit(), Rewritten: changed[r.unit()], Err: err})
		}
		return reports
	}
	for _, r := range all {
		name := r.unit()
		res := results[name]
		rep := UnitReport{App: appOf[name], Unit: name, Rewritten: changed[name], Action: res.action, State: res.state, Err: res.err}
		if e := fileErr[name]; e != nil {
			rep.Err = errors.Join(e, rep.Err)
		}
		if rep.Rewritten {
			m.log.Warn("companion unit file was missing or changed; rewritten", "unit", name)
		}
		reports = append(reports, rep)
	}
	return reports
}

func (m *Manager) path(r rendered) string {
	return filepath.Join(m.opts.Dir, quadlet.FileName(r.spec.Name))
}

// ensureImage makes a companion's image present: already there, else built from its local
// context, else pulled from a whitelisted registry; anything else is ErrImageUnavailable.
func (m *Manager) ensureImage(ctx context.Context, s Spec) error {
	ok, err := m.images.ImageExists(ctx, s.Image)
	if err != nil {
		return fmt.Errorf("companion %s: image %s: %w", s.Name, s.Image, err)
	}
	switch {
	case ok:
		return nil
	case s.Build != nil:
		m.log.Info("building companion image", "companion", s.Name, "image", s.Image)
		if err := m.images.Build(ctx, runtime.BuildOptions{ContextDir: s.Build.ContextDir, Containerfile: s.Build.Containerfile, Tag: s.Image}); err != nil {
			return fmt.Errorf("companion %s: build %s: %w", s.Name, s.Image, err)
		}
		return nil
	case slices.Contains(m.opts.InsecureRegistries, registryOf(s.Image)):
		m.log.Info("pulling companion image from a whitelisted registry", "companion", s.Name, "image", s.Image)
		if err := m.images.Pull(ctx, s.Image, runtime.PullOptions{Insecure: true}); err != nil {
			return fmt.Errorf("companion %s: pull %s: %w", s.Name, s.Image, err)
		}
		return nil
	}
	return fmt.Errorf("companion %s: %s is not present locally, has no build context, and its registry %q is not whitelisted: %w",
		s.Name, s.Image, registryOf(s.Image), ErrImageUnavailable)
}

// registryOf returns the registry host of an image reference ("docker.io" when it names none).
func registryOf(ref string) string {
	first, _, found := strings.Cut(ref, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first
	}
	return "docker.io"
}
