package companion

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/skerry-dev/skerry/runtime"
)

// Install brings app's companions up: images present (local, then a local build, then a pull),
// unit files written when their bytes changed, one daemon-reload when anything changed or a
// unit is not loaded or stale, then each service started (or restarted when it runs an older
// file, or when its image tag now names another image than its container runs: every tag of
// app's companions is resolved, see tags.go). Companions app no longer lists are removed. It is
// idempotent; an app that was never registered is a no-op. When changed companions fail to come up and an earlier set did, the
// earlier unit files are restored and restarted, and the error wraps ErrRolledBack
// (runtime.ErrRolledBack). A unit file of a companion's name that skerry did not write is left
// alone and the error wraps ErrConflict.
func (m *Manager) Install(ctx context.Context, app string) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.unlock()
	m.mu.Lock()
	rs, known := m.apps[app]
	good := m.good[app]
	m.mu.Unlock()
	if !known {
		return nil
	}
	if err := m.checkHost(ctx, rs); err != nil {
		return err
	}
	for _, r := range rs {
		if err := m.ensureImage(ctx, app, r.spec); err != nil {
			return err
		}
	}
	changed, err := m.installApp(ctx, app, true)
	if err == nil {
		m.mu.Lock()
		m.good[app] = rs
		m.mu.Unlock()
	}
	if err == nil || !changed || good == nil || onlyPending(err) {
		return err
	}
	return m.rollback(ctx, app, good, err)
}

// installApp runs a pass over app's companions; with tags, every one of their tags is resolved
// and a companion whose tag moved is restarted (tags.go). It reports whether a unit file
// changed.
func (m *Manager) installApp(ctx context.Context, app string, tags bool) (bool, error) {
	items, err := m.collect(func(_, owner string) bool { return owner == app }, nil)
	if err != nil {
		return false, err
	}
	var moved map[string]bool
	if tags {
		moved = m.movedTags(ctx, items, true)
	}
	reports, changed := m.apply(ctx, items, moved)
	return changed, reportsErr(reports)
}

// rollback registers good again for app after the companions registered last failed, and
// brings good up: its files are restored, the companions good lacks are removed.
func (m *Manager) rollback(ctx context.Context, app string, good []rendered, cause error) error {
	m.log.Warn("companions did not come up; restoring the previous unit files", "app", app, "err", cause)
	m.mu.Lock()
	m.apps[app] = good
	m.noteUnits()
	m.mu.Unlock()
	if _, err := m.installApp(ctx, app, false); err != nil {
		return fmt.Errorf("companions of %s: %w; rollback failed too: %w", app, cause, err)
	}
	return fmt.Errorf("companions of %s: %w: %w", app, cause, ErrRolledBack)
}

// Remove disables all of app's companions, registered or not: every unit file that carries
// app's ownership marker is found in the unit directory, so that an app uninstalled after a
// daemon restart, or whose container is already gone, leaves no companion behind. Each file is
// first renamed to a tombstone (the removal survives a crash from then on), the service stopped
// (so that Restart=always cannot respawn it), systemd reloaded, the tombstone deleted. The
// registration is forgotten; until the removal completes, every pass carries it on.
func (m *Manager) Remove(ctx context.Context, app string) error {
	var p runtime.Problems
	runtime.ValidateName(&p, "App", app)
	if err := p.Err("companion removal"); err != nil {
		return err
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.unlock()
	m.mu.Lock()
	extra := map[string]string{}
	for _, r := range m.apps[app] {
		extra[r.spec.Name] = app
	}
	delete(m.apps, app)
	delete(m.good, app)
	m.removing[app] = true
	m.noteUnits()
	m.mu.Unlock()
	items, err := m.collect(func(_, owner string) bool { return owner == app }, extra)
	if err != nil {
		return err
	}
	reports, _ := m.apply(ctx, items, nil)
	if err := reportsErr(reports); err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.removing, app)
	m.mu.Unlock()
	return nil
}

// reportsErr joins the reports' errors.
func reportsErr(reports []UnitReport) error {
	var errs []error
	for _, r := range reports {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return errors.Join(errs...)
}

// onlyPending reports whether every error joined in err is ErrPending.
func onlyPending(err error) bool {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		if !errors.Is(e, ErrPending) {
			return false
		}
	}
	return true
}

// registeredUnits returns the sorted units of every registered companion.
func registeredUnits(apps map[string][]rendered) []string {
	units := map[string]bool{}
	for _, rs := range apps {
		for _, r := range rs {
			units[r.unit()] = true
		}
	}
	return slices.Sorted(maps.Keys(units))
}
