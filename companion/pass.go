package companion

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/skerry-dev/skerry/quadlet"
)

// item is one companion name in a pass.
type item struct {
	name string
	app  string    // the registering app, else the one its marker names
	want *rendered // the registered companion; nil when not registered
	disk onDisk
	v    verdict
}

func (it item) unit() string { return quadlet.ServiceName(it.name) }

// collect reads the unit directory and judges every companion name that in selects (by name
// and app). extra names units of apps being removed that may have no file left (name -> app).
func (m *Manager) collect(in func(name, app string) bool, extra map[string]string) ([]item, error) {
	want, known, removing := m.desired()
	disk, err := m.scan()
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for n := range disk {
		names[n] = true
	}
	for _, r := range want {
		names[r.spec.Name] = true
	}
	for n := range extra {
		names[n] = true
	}
	var items []item
	for _, name := range slices.Sorted(maps.Keys(names)) {
		d := disk[name]
		it := item{name: name, disk: d}
		if r, ok := want[name]; ok {
			it.want, it.app = &r, r.app
		} else {
			it.app = cmp.Or(d.owner, d.tombOwner, d.restartOwner, extra[name])
		}
		if it.app == "" || !in(name, it.app) {
			continue // a file skerry did not write, and nobody registered its name
		}
		it.v = decide(facts{
			Registered: it.want != nil, File: d.data != nil || d.err != nil, Marked: d.marked(), Tomb: d.tombOwner != "",
			OwnerKnown: known[it.app], OwnerRemoving: removing[it.app] || extra[name] != "", Prune: m.opts.PruneOrphans,
		})
		items = append(items, it)
	}
	return items, nil
}

// step is an item being carried out.
type step struct {
	item
	st        quadlet.UnitState
	rep       UnitReport
	rewritten bool // its file was written over different content, or created
	restart   bool // running on an older file: restart after the reload
	effect    bool // a removal did something
}

// apply carries out a pass over items, in an order where a crash after any step leaves a state
// the next pass converges from: the units' states are read; files are written (a restart
// sidecar first when a running unit's file changes) and those of dropped companions buried;
// dropped units are stopped; systemd is reloaded when any file changed or any unit is not
// loaded, stale (NeedDaemonReload) or loaded from a file that is gone; tombstones are deleted;
// registered units are started, or restarted onto their new file. It never stops at a failing
// unit. Registered companions named in moved (see tags.go) whose unit runs are restarted onto
// the new image of their tag. It reports whether the file of a registered companion changed.
func (m *Manager) apply(ctx context.Context, items []item, moved map[string]bool) ([]UnitReport, bool) {
	steps := make([]*step, len(items))
	for i, it := range items {
		s := &step{item: it, rep: UnitReport{App: it.app, Unit: it.unit()}}
		steps[i] = s
		switch {
		case it.v == vConflict:
			// An error only where skerry wanted the name: a removal has nothing of its own there.
			if s.rep.Status = StatusConflict; it.want != nil {
				s.rep.Err = fmt.Errorf("companion %s: %s: %w", it.name, m.path(it.name), ErrConflict)
			}
			continue
		case it.disk.err != nil:
			s.rep.Err = fmt.Errorf("companion %s: %w", it.name, it.disk.err)
			continue
		}
		st, err := m.units.Unit(ctx, it.unit())
		if errors.Is(err, quadlet.ErrNoSuchUnit) {
			st, err = quadlet.UnitState{Name: it.unit(), LoadState: "not-found", ActiveState: "inactive", SubState: "dead"}, nil
		}
		if err != nil {
			s.rep.Err = fmt.Errorf("companion %s: %w", it.name, err)
		}
		s.st, s.rep.State = st, st
	}
	live := func(v verdict) []*step {
		var out []*step
		for _, s := range steps {
			if s.v == v && s.rep.Err == nil {
				out = append(out, s)
			}
		}
		return out
	}
	reload, changed := false, false
	for _, s := range live(vKeep) {
		// A new release's file is written only once its image is there: the unit keeps running
		// on its current file otherwise (Install checks too; a pass must not undo that).
		if !bytes.Equal(s.disk.data, s.want.data) {
			if s.rep.Err = m.ensureImage(ctx, s.app, s.want.spec); s.rep.Err != nil {
				continue
			}
		}
		s.rep.Err = m.writeKept(s)
		if moved[s.name] && s.rep.Err == nil && s.st.Active() {
			s.restart, s.rep.TagMoved = true, true // onto what its tag names now (tags.go)
		}
		reload = reload || s.rewritten || !s.st.Loaded() || s.st.NeedDaemonReload
		changed = changed || s.rewritten
	}
	// Every dropped file is buried before the first stop: from then on a crash cannot leave a
	// dropped companion that the next pass would not find.
	for _, s := range live(vDrop) {
		if s.disk.data != nil {
			if err := m.bury(s.name); err != nil {
				s.rep.Err = fmt.Errorf("companion %s: bury unit file: %w", s.name, err)
				continue
			}
			s.effect, reload = true, true
		}
	}
	for _, s := range live(vDrop) {
		if s.st.Loaded() || s.st.ActiveState != "inactive" {
			if err := m.units.Stop(ctx, s.unit()); err != nil {
				s.rep.Err = fmt.Errorf("companion %s: %w", s.name, err)
				continue
			}
			// A service killed at the end of its stop timeout (exit 137) ends "failed" and would
			// stay listed as not-found/failed after the reload: forget that.
			if err := m.units.ResetFailed(ctx, s.unit()); err != nil && !errors.Is(err, quadlet.ErrNoSuchUnit) {
				m.log.Warn("reset-failed", "unit", s.unit(), "err", err)
			}
			s.effect, reload = true, reload || s.st.Loaded()
		}
	}
	if reload {
		if err := m.units.Reload(ctx); err != nil {
			err = fmt.Errorf("companion: %w", err)
			for _, s := range steps {
				if (s.v == vKeep || s.v == vDrop) && s.rep.Err == nil {
					s.rep.Err = err
				}
			}
		}
	}
	for _, s := range live(vDrop) {
		s.rep.Err = m.unbury(s)
	}
	for _, s := range live(vKeep) {
		m.run(ctx, s)
		if s.rep.TagMoved && s.rep.Err != nil {
			m.tags.Stale(s.want.spec.Image) // look again at the next pass
		}
	}
	reports := make([]UnitReport, len(steps))
	for i, s := range steps {
		m.finish(s)
		reports[i] = s.rep
	}
	return reports, changed
}

// unitFileMode is the mode of the unit files the manager writes: only the user whose systemd
// reads them (the Quadlet generator runs as that user) can read them. This does not make Env
// a place for secrets: Quadlet copies it onto podman's command line (see Spec.Env).
const unitFileMode = 0o600

// writeKept writes a registered companion's file when its bytes differ, after a restart sidecar
// when its unit runs (on an older file, or will once the file changes), and deletes a tombstone
// left by an abandoned removal.
func (m *Manager) writeKept(s *step) error {
	running := s.st.Active()
	differs := !bytes.Equal(s.disk.data, s.want.data)
	s.restart = running && (s.disk.restartOwner != "" || s.st.NeedDaemonReload || differs && s.disk.data != nil)
	if differs || s.restart {
		// A fresh node has no ~/.config/containers/systemd yet.
		if err := os.MkdirAll(m.opts.Dir, 0o755); err != nil {
			return fmt.Errorf("companion %s: unit directory: %w", s.name, err)
		}
	}
	if s.restart && s.disk.restartOwner == "" {
		if _, err := quadlet.WriteIfChanged(m.restartPath(s.name), []byte(marker(s.app)), unitFileMode); err != nil {
			return fmt.Errorf("companion %s: %w", s.name, err)
		}
	}
	if differs {
		if _, err := quadlet.WriteIfChanged(m.path(s.name), s.want.data, unitFileMode); err != nil {
			return fmt.Errorf("companion %s: %w", s.name, err)
		}
		s.rewritten, s.rep.Rewritten = true, true
	}
	if s.disk.tombOwner != "" {
		if _, err := quadlet.Remove(m.tombPath(s.name)); err != nil {
			return fmt.Errorf("companion %s: %w", s.name, err)
		}
	}
	return nil
}

// unbury deletes a stopped, unloaded companion's tombstone and restart sidecar.
func (m *Manager) unbury(s *step) error {
	for _, p := range []string{m.tombPath(s.name), m.restartPath(s.name)} {
		ok, err := quadlet.Remove(p)
		if err != nil {
			return fmt.Errorf("companion %s: %w", s.name, err)
		}
		s.effect = s.effect || ok
	}
	return nil
}

// run starts a registered companion that is inactive or failed, and restarts one that runs on an
// older file. A unit in the middle of a stop or of a start is left alone, its restart pending
// (ErrPending): starting it now would cancel the stop job (a user's, systemd's or ours), and
// restarting a unit that starts stops it before it is up, which systemd does without ExecStop:
// it SIGTERMs conmon, which hands the signal to the container's PID 1, and one that ignores it
// holds the stop, and the pass that waits for it, until the unit's stop timeout (the hang of
// fault campaign run f565db7, where a daemon killed during a restart left the unit starting).
// Its next state change, or the next pass, restarts it once it is up.
func (m *Manager) run(ctx context.Context, s *step) {
	name := s.unit()
	switch {
	case s.st.ActiveState == "deactivating" || starting(s.st):
		s.rep.Action = ActionNone
		if s.restart || s.disk.restartOwner != "" {
			s.rep.Err = fmt.Errorf("companion %s: restart deferred while the unit is %s (%s): %w",
				s.name, s.st.ActiveState, s.st.SubState, ErrPending)
		}
		return
	case s.restart:
		s.rep.Action, s.rep.Err = ActionRestarted, m.units.Restart(ctx, name)
	case !s.st.Active():
		if s.st.ActiveState == "failed" {
			if err := m.units.ResetFailed(ctx, name); err != nil {
				m.log.Warn("reset-failed", "unit", name, "err", err)
			}
		}
		s.rep.Action, s.rep.Err = ActionStarted, m.units.Start(ctx, name)
	default:
		s.rep.Action = ActionNone
	}
	if s.rep.Err != nil && s.rep.Action != ActionNone {
		s.rep.Err = fmt.Errorf("companion %s: %s: %w", s.name, s.rep.Action, s.rep.Err)
	}
	// Started or restarted, the unit runs its current file: a restart sidecar has done its job.
	if s.rep.Err == nil && s.rep.Action != ActionNone && (s.restart || s.disk.restartOwner != "") {
		if _, err := quadlet.Remove(m.restartPath(s.name)); err != nil {
			s.rep.Err = fmt.Errorf("companion %s: %w", s.name, err)
		}
	}
}

// starting reports whether a start job of the unit is under way (for a Notify=healthy unit:
// until its first passing check); a unit "activating" between two respawns of Restart= is not.
func starting(st quadlet.UnitState) bool {
	return st.ActiveState == "activating" && st.SubState != "auto-restart"
}

// finish fills a step's status and logs what it did.
func (m *Manager) finish(s *step) {
	r := &s.rep
	switch {
	case s.v == vConflict:
	case s.v == vOrphan:
		r.Action, r.Status = ActionNone, StatusOrphan
	case s.v == vDrop && r.Err == nil:
		r.Action, r.Status = ActionNone, StatusRemoved
		if s.effect {
			r.Action = ActionRemoved
		}
	case s.v == vKeep && r.Err == nil && (r.Action == ActionStarted || r.Action == ActionRestarted):
		r.Status = StatusActive
	default:
		r.Status = statusOf(s.st)
	}
	if r.Action == "" {
		r.Action = ActionNone
	}
	switch {
	case r.Err != nil:
		m.log.Warn("companion not converged", "app", r.App, "unit", r.Unit, "verdict", s.v.String(), "err", r.Err)
	case r.Rewritten || r.Action != ActionNone:
		m.log.Info("companion", "app", r.App, "unit", r.Unit, "was", s.st.ActiveState, "action", string(r.Action),
			"file", map[bool]string{true: "written", false: "unchanged"}[r.Rewritten])
	}
	if s.v == vOrphan {
		m.log.Debug("companion of an unknown app left alone (orphan)", "app", r.App, "unit", r.Unit)
	}
}
