package companion

import (
	"context"

	"github.com/skerry-dev/skerry/quadlet"
)

// UnitReport is the outcome of one companion unit in a pass.
type UnitReport struct {
	// App is the app the companion belongs to: the registering app, else the one its unit
	// file's ownership marker names.
	App  string
	Unit string
	// Rewritten reports that the unit file was missing or tampered with and was rewritten.
	Rewritten bool
	// Action is what the pass did: ActionNone, ActionStarted, ActionRestarted, ActionRemoved.
	Action Action
	// Status is the companion's state as the pass leaves it: StatusActive, StatusStarting,
	// StatusRestarting, StatusFailed, StatusInactive (judged from State, or active after a
	// successful start), StatusOrphan, StatusRemoved or StatusConflict.
	Status Status
	// TagMoved reports that the companion's image tag names another image than its container
	// ran, so the pass restarted it onto the new one (see tags.go).
	TagMoved bool
	// State is the unit's state before the action (NRestarts and NeedDaemonReload included).
	State quadlet.UnitState
	Err   error
}

// Reconcile makes the unit directory and systemd match what is registered. It reads the unit
// directory and finds every unit file carrying skerry's ownership marker, then: a registered
// companion whose file is missing or tampered with is rewritten, one daemon-reload covers every
// change and every unit that is not loaded or stale, an inactive or failed service is started,
// a service running on an older file is restarted; a companion its app no longer lists, or of
// an app being removed, is removed (file buried, unit stopped, reload, tombstone deleted); one of
// an app this manager does not know is an orphan: reported and left running, unless
// Options.PruneOrphans. Files without the marker are never touched. A running companion whose
// image tag now names another image than its container runs is restarted onto it (TagMoved;
// tags are resolved only when due, see tags.go). It never stops at a failing unit; the reports
// are sorted by unit.
func (m *Manager) Reconcile(ctx context.Context) []UnitReport {
	return m.reconcile(ctx, func(string, string) bool { return true }, true)
}

// ReconcileUnit is Reconcile for one unit ("bitcoind-ui.service"): what a change of that
// unit's state triggers. A unit that is neither registered nor in the unit directory is
// ignored (nil).
func (m *Manager) ReconcileUnit(ctx context.Context, unit string) []UnitReport {
	return m.reconcile(ctx, func(name, _ string) bool { return quadlet.ServiceName(name) == unit }, false)
}

// reconcile is a pass over the companions in selects; with tags, it restarts those whose image
// tag moved (tags.go).
func (m *Manager) reconcile(ctx context.Context, in func(name, app string) bool, tags bool) []UnitReport {
	if err := m.lock(ctx); err != nil {
		return []UnitReport{{Err: err}}
	}
	defer m.unlock()
	items, err := m.collect(in, nil)
	if err != nil {
		return []UnitReport{{Err: err}}
	}
	var moved map[string]bool
	if tags {
		moved = m.movedTags(ctx, items, false)
	}
	reports, _ := m.apply(ctx, items, moved)
	return reports
}
