package fake

import (
	"fmt"
	"slices"
)

// Crash is the value a Manager panics with when a crash planned by CrashAt fires: the caller
// "died" right before or right after Step took effect. Tests recover it, drop the caller, and
// check that a fresh one converges over the same directory and the same Manager.
type Crash struct {
	// Step is the mutating call ("reload", "start bitcoind-ui.service").
	Step string
	// After reports that the call took effect before the crash.
	After bool
}

func (c Crash) Error() string {
	when := "before"
	if c.After {
		when = "after"
	}
	return fmt.Sprintf("fake systemd: crash %s %q", when, c.Step)
}

// crashPlan counts mutating calls towards a planned crash.
type crashPlan struct {
	n     int // the crash fires at the nth mutating call from the plan (0: none planned)
	after bool
	seen  int
}

// at reports whether the planned crash fires at this point of a mutating call: before it takes
// effect (after false, counting the call) or after. Called with m.mu held.
func (p *crashPlan) at(step string, after bool) (Crash, bool) {
	if p.n == 0 {
		return Crash{}, false
	}
	if !after {
		p.seen++
	}
	if p.seen != p.n || p.after != after {
		return Crash{}, false
	}
	*p = crashPlan{}
	return Crash{Step: step, After: after}, true
}

// CrashAt plans a crash at the nth (1-based) mutating call (reload, start, stop, restart,
// reset-failed) from now: the call panics with a Crash before it takes effect, or, when after
// is set, once it has. Calls failed by FailNext do not count. A plan fires once; CrashAt(0, _)
// cancels it.
func (m *Manager) CrashAt(n int, after bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.crash = crashPlan{n: n, after: after}
}

// Journal returns the mutating calls that took effect, in order ("reload",
// "start bitcoind-ui.service"), and clears it.
func (m *Manager) Journal() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Clone(m.journal)
	m.journal = nil
	return out
}
