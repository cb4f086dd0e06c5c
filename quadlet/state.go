package quadlet

import "errors"

// UnitState is what systemd reports of a unit. Unit managers (quadlet/systemd over D-Bus,
// quadlet/fake in memory) return it; the companion package decides from it.
type UnitState struct {
	// Name is the unit's name ("bitcoind-ui.service").
	Name string
	// LoadState: "loaded", "not-found", "error", "masked", ...
	LoadState string
	// ActiveState: "active", "reloading", "inactive", "failed", "activating", "deactivating".
	ActiveState string
	// SubState is the unit-type specific state ("running", "dead", "auto-restart", ...).
	SubState string
	// NRestarts counts respawns under Restart= (services only). Filled by a manager's Unit
	// method, zero from States.
	NRestarts uint32
	// NeedDaemonReload reports that the unit's file changed since the last daemon-reload.
	// Filled by Unit, false from States.
	NeedDaemonReload bool
}

// Loaded reports whether systemd knows the unit from a file (for a Quadlet unit: the
// generator produced it at the last daemon-reload).
func (s UnitState) Loaded() bool { return s.LoadState == "loaded" }

// Active reports whether the unit is active or on its way there (activating, reloading, or
// waiting to be restarted by Restart=).
func (s UnitState) Active() bool {
	return s.ActiveState == "active" || s.ActiveState == "activating" || s.ActiveState == "reloading"
}

// Errors of unit managers; test them with errors.Is.
var (
	// ErrNoSuchUnit: systemd does not know the unit (for Quadlet: no file at the last reload).
	ErrNoSuchUnit = errors.New("no such unit")
	// ErrJobFailed: a start, stop or restart job ended in failed, timeout, dependency, canceled
	// or skipped. The wrapping error names the result.
	ErrJobFailed = errors.New("systemd job failed")
	// ErrUnavailable: the unit manager could not be reached (bus gone or restarting, manager
	// not on the bus, connection closed). The call may succeed later; a manager reconnects.
	ErrUnavailable = errors.New("unit manager unavailable")
)
