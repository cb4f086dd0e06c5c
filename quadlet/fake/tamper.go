package fake

import (
	"maps"
	"slices"

	"github.com/skerry-dev/skerry/quadlet"
)

// Tampering and inspection helpers: they act behind the caller's back and are not counted.

// State returns unit's current state.
func (m *Manager) State(unit string) quadlet.UnitState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state(unit)
}

// Kill simulates the service's main process dying: with Restart=always systemd brings it
// back (NRestarts grows); otherwise it ends failed.
func (m *Manager) Kill(unit string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.services[unit]
	if s == nil || s.active != "active" {
		return
	}
	if f, ok := m.loaded[unit]; ok && f.restartAlways {
		s.nRestarts++
		return
	}
	s.active = "failed"
	m.changed(unit)
}

// IgnoreSIGTERM makes unit's main process ignore SIGTERM: every later stop ends with SIGKILL at
// the stop timeout, and the service "failed" (exit status 137), which systemd keeps listed,
// file or no file, until a reset-failed.
func (m *Manager) IgnoreSIGTERM(unit string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.service(unit).killedOnStop = true
}

// CrashLoop puts a running service between two respawns under Restart=always: ActiveState
// "activating", SubState "auto-restart", as systemd reports a service whose process keeps dying.
func (m *Manager) CrashLoop(unit string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.services[unit]; s != nil {
		s.active, s.sub = "activating", "auto-restart"
		s.nRestarts++
		m.changed(unit)
	}
}

// Fail puts a service in the failed state, as systemd does when a start job fails or the
// start limit is hit.
func (m *Manager) Fail(unit string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.loaded[unit]; ok {
		s := m.service(unit)
		s.active, s.sub = "failed", ""
		m.changed(unit)
	}
}

// Starting puts a service in the middle of a start job (ActiveState "activating", SubState
// "start"), as systemd reports a Notify=healthy Quadlet service until its first passing check,
// on the content it is being started from: the loaded one. Start completes it.
func (m *Manager) Starting(unit string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f, ok := m.loaded[unit]; ok {
		s := m.service(unit)
		s.active, s.sub, s.content = "activating", "", f.content
		m.changed(unit)
	}
}

// Deactivate puts a service in the middle of a stop (ActiveState "deactivating"), as
// `systemctl stop` of a slow service does; StopExternally completes it.
func (m *Manager) Deactivate(unit string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.services[unit]; s != nil {
		s.active, s.sub = "deactivating", ""
		m.changed(unit)
	}
}

// StopExternally stops a service behind the caller's back (`systemctl --user stop`).
func (m *Manager) StopExternally(unit string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.services[unit]; s != nil {
		s.active, s.sub = "inactive", ""
		m.changed(unit)
	}
}

// NRestarts returns how many times Restart=always respawned unit.
func (m *Manager) NRestarts(unit string) uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.services[unit]; s != nil {
		return s.nRestarts
	}
	return 0
}

// Running returns the unit file content unit's service was last started from, and whether it
// is running (active, activating or in auto-restart).
func (m *Manager) Running(unit string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.services[unit]; s != nil && s.running() {
		return s.content, true
	}
	return "", false
}

// Active returns the names of active services, sorted.
func (m *Manager) Active() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, name := range slices.Sorted(maps.Keys(m.services)) {
		if m.services[name].active == "active" {
			out = append(out, name)
		}
	}
	return out
}

// Loaded returns the names of the units the last Reload generated, sorted.
func (m *Manager) Loaded() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.loaded))
}
