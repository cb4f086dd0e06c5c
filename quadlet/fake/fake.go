// Package fake is an in-memory systemd user manager that simulates Quadlet, for tests: a
// name.service exists after a Reload only if name.container was in the unit directory then, so
// a file written but not reloaded is "present but not loaded", a file changed since the last
// Reload makes its unit NeedDaemonReload, and a file deleted but not reloaded leaves its unit
// "loaded, file gone". A running service keeps the file content it was started from until it is
// restarted; a service whose file says Restart=always comes back when killed. Counters, a journal
// of mutating calls, error injection and crash injection (crash.go) let tests assert what a
// caller did and what survives a crash. It is safe for concurrent use.
package fake

import (
	"context"
	"fmt"
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
	journal  []string         // mutating calls that took effect, "verb unit", in order
	crash    crashPlan
	changes  broadcast.Broadcaster[string]
}

type unitFile struct {
	restartAlways bool
	content       string
}

type service struct {
	active    string // "active", "activating", "deactivating", "inactive", "failed"
	sub       string // SubState when active does not imply it ("auto-restart")
	content   string // the unit file content the service was last started from
	nRestarts uint32
	// killedOnStop: the main process ignores SIGTERM, so a stop ends in SIGKILL (exit 137) and
	// the service "failed", as podman's service of a busybox httpd does (see IgnoreSIGTERM).
	killedOnStop bool
}

// New returns a manager whose Quadlet generator reads dir.
func New(dir string) *Manager {
	return &Manager{dir: dir, loaded: map[string]unitFile{}, services: map[string]*service{},
		calls: map[string]int{}, fail: map[string]error{}}
}

// Calls returns how many times verb ("reload", "start", "stop", "restart", "reset-failed",
// "states", "unit") was called.
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

// enter counts a call and applies injected errors; on success it returns with m.mu held.
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

// mutate runs a mutating call: counted, journaled, and subject to a planned crash before or
// after f takes effect. f runs with m.mu held.
func (m *Manager) mutate(ctx context.Context, verb, unit string, f func() error) error {
	if err := m.enter(ctx, verb); err != nil {
		return err
	}
	step := strings.TrimSpace(verb + " " + unit)
	if c, ok := m.crash.at(step, false); ok {
		m.mu.Unlock()
		panic(c)
	}
	err := f()
	if err == nil {
		m.journal = append(m.journal, step)
	}
	c, crash := m.crash.at(step, true)
	m.mu.Unlock()
	if crash {
		panic(c)
	}
	return err
}

// Reload re-runs the simulated generator over the unit directory.
func (m *Manager) Reload(ctx context.Context) error {
	return m.mutate(ctx, "reload", "", func() error {
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
		// A service whose file went away stays as it is until stopped (as systemd keeps a
		// running unit whose file vanished), a failed one until reset-failed; an inactive one
		// disappears.
		for name, s := range m.services {
			if _, ok := loaded[name]; !ok && !s.running() && s.active != "failed" {
				delete(m.services, name)
			}
		}
		return nil
	})
}

func (s *service) running() bool { return s.active == "active" || s.active == "activating" }

// Start implements the unit manager's start. Starting a running service changes nothing (it
// keeps the content it was started from).
func (m *Manager) Start(ctx context.Context, unit string) error {
	return m.mutate(ctx, "start", unit, func() error {
		f, ok := m.loaded[unit]
		if !ok {
			return fmt.Errorf("fake systemd: start %s: %w", unit, quadlet.ErrNoSuchUnit)
		}
		if s := m.service(unit); s.active != "active" {
			s.active, s.sub, s.content = "active", "", f.content
			m.changed(unit)
		}
		return nil
	})
}

func (m *Manager) service(unit string) *service {
	s := m.services[unit]
	if s == nil {
		s = &service{active: "inactive"}
		m.services[unit] = s
	}
	return s
}

// Stop implements the unit manager's stop; an unknown unit is not an error. A unit whose file
// is gone is forgotten once stopped. A stop of a service that is starting and ignores SIGTERM
// (Starting, IgnoreSIGTERM) does not end before ctx does: see hungStop.
func (m *Manager) Stop(ctx context.Context, unit string) error {
	if err := m.hungStop(ctx, "stop", unit); err != nil {
		return err
	}
	return m.mutate(ctx, "stop", unit, func() error {
		if s := m.services[unit]; s != nil {
			s.active, s.sub = "inactive", ""
			if s.killedOnStop {
				s.active = "failed" // systemd keeps a failed unit loaded until reset-failed
			}
			if _, ok := m.loaded[unit]; !ok && s.active != "failed" {
				delete(m.services, unit)
			}
			m.changed(unit)
		}
		return nil
	})
}

// Restart implements the unit manager's restart: the service runs the loaded content after it.
// Restarting a service that is starting and ignores SIGTERM does not end before ctx does: see
// hungStop.
func (m *Manager) Restart(ctx context.Context, unit string) error {
	if err := m.hungStop(ctx, "restart", unit); err != nil {
		return err
	}
	return m.mutate(ctx, "restart", unit, func() error {
		f, ok := m.loaded[unit]
		if !ok {
			return fmt.Errorf("fake systemd: restart %s: %w", unit, quadlet.ErrNoSuchUnit)
		}
		s := m.service(unit)
		s.active, s.sub, s.content = "active", "", f.content
		m.changed(unit)
		return nil
	})
}

// hungStop models a stop of a Quadlet service in the middle of its start (Starting) whose
// container's PID 1 ignores SIGTERM (IgnoreSIGTERM): systemd skips ExecStop (podman rm, which
// would kill it after its StopTimeout) and SIGTERMs conmon, which forwards the signal to PID 1,
// so the stop lasts the unit's whole TimeoutStopSec, longer than any caller's ctx here. The
// call is counted and returns ctx's error once ctx ends; nil when the stop would not hang.
func (m *Manager) hungStop(ctx context.Context, verb, unit string) error {
	m.mu.Lock()
	s := m.services[unit]
	hung := s != nil && s.active == "activating" && s.sub == "" && s.killedOnStop
	if hung {
		m.calls[verb]++
	}
	m.mu.Unlock()
	if !hung {
		return nil
	}
	<-ctx.Done()
	return fmt.Errorf("fake systemd: %s %s: %w", verb, unit, ctx.Err())
}

// ResetFailed implements the unit manager's reset-failed.
func (m *Manager) ResetFailed(ctx context.Context, unit string) error {
	return m.mutate(ctx, "reset-failed", unit, func() error {
		if s := m.services[unit]; s != nil && s.active == "failed" {
			s.active, s.sub = "inactive", ""
			if _, ok := m.loaded[unit]; !ok {
				delete(m.services, unit)
			}
		}
		return nil
	})
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
		switch {
		case s.sub != "":
			st.SubState = s.sub
		case s.active == "active":
			st.SubState = "running"
		case s.active == "failed":
			st.SubState = "failed"
		case s.active == "activating":
			st.SubState = "start"
		case s.active == "deactivating":
			st.SubState = "stop-sigterm"
		}
	}
	return st
}

// Unit implements the unit manager's full state read: NRestarts and NeedDaemonReload (the file
// differs from what the last Reload saw, or appeared or vanished since) included.
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
