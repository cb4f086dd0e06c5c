// Package fake is an in-memory systemd user manager that simulates Quadlet, for tests: a
// name.service exists after a Reload only if name.container was in the unit directory then;
// a service whose file says Restart=always comes back when killed; counters and fault
// injection let tests assert what a caller did. It is safe for concurrent use.
package fake

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/skerry-dev/skerry/internal/broadcast"
	"github.com/skerry-dev/skerry/quadlet"
)

// Manager is the fake. Create it with New.
type Manager struct {
	dir string

	mu       sync.Mutex
	loaded   map[string]unitFile // service name -> file seen at the last reload
	services map[string]*service
	calls    map[string]int
	fail     map[string]error // verb -> error for the next call
	changes  broadcast.Broadcaster[string]
}

type unitFile struct {
	restartAlways bool
	content       string
}

type service struct {
	active    string // "active", "inactive", "failed"
	nRestarts uint32
}

// New returns a manager whose Quadlet generator reads dir.
func New(dir string) *Manager {
	return &Manager{dir: dir, loaded: map[string]unitFile{}, services: map[string]*service{},
		calls: map[string]int{}, fail: map[string]error{}}
}

// Calls returns how many times verb ("reload", "start", "stop", "restart", "reset-failed",
// "states") was called.
func (m *Manager) Calls(verb string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[verb]
}

// FailNext makes the next call of verb return err.
func (m *Manager) FailNext(verb string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail[verb] = err
}

func (m *Manager) enter(ctx context.Context, verb string) error {
	m.mu.Lock()
	m.calls[verb]++
	if err := m.fail[verb]; err != nil {
		delete(m.fail, verb)
		m.mu.Unlock()
		return fmt.Errorf("fake systemd %s: injected: %w", verb, err)
	}
	if err := ctx.Err(); err != nil {
		m.mu.Unlock()
		return err
	}
	return nil
}

// Reload re-runs the simulated generator over the unit directory.
func (m *Manager) Reload(ctx context.Context) error {
	if err := m.enter(ctx, "reload"); err != nil {
		return err
	}
	defer m.mu.Unlock()
	entries, err := os.ReadDir(m.dir)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	loaded := map[string]unitFile{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".container")
		if !ok || e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(m.dir, e.Name()))
		if err != nil {
			return err
		}
		loaded[quadlet.ServiceName(name)] = unitFile{content: string(b), restartAlways: strings.Contains(string(b), "\nRestart=always\n")}
	}
	m.loaded = loaded
	// A service whose file went away stays as it is until stopped (as systemd keeps a running
	// unit whose file vanished); an inactive one disappears.
	for name, s := range m.services {
		if _, ok := loaded[name]; !ok && s.active != "active" {
			delete(m.services, name)
		}
	}
	return nil
}

// Start implements the unit manager's start.
func (m *Manager) Start(ctx context.Context, unit string) error {
	if err := m.enter(ctx, "start"); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if _, ok := m.loaded[unit]; !ok {
		return fmt.Errorf("fake systemd: start %s: %w", unit, quadlet.ErrNoSuchUnit)
	}
	m.service(unit).active = "active"
	m.changed(unit)
	return nil
}

func (m *Manager) service(unit string) *service {
	s := m.services[unit]
	if s == nil {
		s = &service{active: "inactive"}
		m.services[unit] = s
	}
	return s
}

// Stop implements the unit manager's stop; an unknown unit is not an error.
func (m *Manager) Stop(ctx context.Context, unit string) error {
	if err := m.enter(ctx, "stop"); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if s := m.services[unit]; s != nil {
		s.active = "inactive"
		if _, ok := m.loaded[unit]; !ok {
			delete(m.services, unit)
		}
		m.changed(unit)
	}
	return nil
}

// Restart implements the unit manager's restart.
func (m *Manager) Restart(ctx context.Context, unit string) error {
	if err := m.enter(ctx, "restart"); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if _, ok := m.loaded[unit]; !ok {
		return fmt.Errorf("fake systemd: restart %s: %w", unit, quadlet.ErrNoSuchUnit)
	}
	m.service(unit).active = "active"
	return nil
}

// ResetFailed implements the unit manager's reset-failed.
func (m *Manager) ResetFailed(ctx context.Context, unit string) error {
	if err := m.enter(ctx, "reset-failed"); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if s := m.services[unit]; s != nil && s.active == "failed" {
		s.active = "inactive"
	}
	return nil
}

// States implements the unit manager's batch state read.
func (m *Manager) States(ctx context.Context, units []string) (map[string]quadlet.UnitState, error) {
	if err := m.enter(ctx, "states"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	out := make(map[string]quadlet.UnitState, len(units))
	for _, u := range units {
		out[u] = m.state(u)
	}
	return out, nil
}

func (m *Manager) state(unit string) quadlet.UnitState {
	st := quadlet.UnitState{Name: unit, LoadState: "not-found", ActiveState: "inactive", SubState: "dead"}
	if _, ok := m.loaded[unit]; ok {
		st.LoadState = "loaded"
	}
	if s := m.services[unit]; s != nil {
		st.ActiveState = s.active
		if s.active == "active" {
			st.SubState = "running"
		} else if s.active == "failed" {
			st.SubState = "failed"
		}
	}
	return st
}

// Unit implements the unit manager's full state read: NRestarts and NeedDaemonReload (the file
// differs from what the last Reload saw) included.
func (m *Manager) Unit(ctx context.Context, unit string) (quadlet.UnitState, error) {
	if err := m.enter(ctx, "unit"); err != nil {
		return quadlet.UnitState{}, err
	}
	defer m.mu.Unlock()
	st := m.state(unit)
	if s := m.services[unit]; s != nil {
		st.NRestarts = s.nRestarts
	}
	name, _ := strings.CutSuffix(unit, ".service")
	b, err := os.ReadFile(filepath.Join(m.dir, quadlet.FileName(name)))
	loaded, ok := m.loaded[unit]
	st.NeedDaemonReload = ok && (err != nil || string(b) != loaded.content) || !ok && err == nil
	return st, nil
}

// UnitChanges streams the names of those of units whose state changed (by a call or a tampering
// helper) until ctx ends. A reader more than 256 changes behind loses some, as with systemd's
// signals.
func (m *Manager) UnitChanges(ctx context.Context, units []string) (<-chan string, error) {
	return m.changes.Subscribe(ctx, 256, func(unit string) bool { return slices.Contains(units, unit) }), nil
}

// changed notifies subscribers about unit. Called with m.mu held; never blocks.
func (m *Manager) changed(unit string) { m.changes.Send(unit) }

// --- tampering and inspection (not counted) ---

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

// Deactivate puts a service in the middle of a stop (ActiveState "deactivating"), as
// `systemctl stop` of a slow service does; StopExternally completes it.
func (m *Manager) Deactivate(unit string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.services[unit]; s != nil {
		s.active = "deactivating"
		m.changed(unit)
	}
}

// StopExternally stops a service behind the caller's back (`systemctl --user stop`).
func (m *Manager) StopExternally(unit string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.services[unit]; s != nil {
		s.active = "inactive"
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
