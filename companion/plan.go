package companion

import "github.com/skerry-dev/skerry/quadlet"

// verdict is what a pass does with one companion name. The zero value is invalid.
type verdict int

// The verdicts.
const (
	// vKeep: registered; its file is written when its bytes differ, its unit reloaded when
	// stale, started when inactive, restarted when it runs an older file.
	vKeep verdict = iota + 1
	// vDrop: not registered and skerry's to remove: its file is buried, its unit stopped, systemd
	// reloaded, the tombstone deleted.
	vDrop
	// vOrphan: a companion of an app this manager does not know; reported and left alone.
	vOrphan
	// vConflict: a file skerry did not write holds the name; nothing is touched.
	vConflict
)

func (v verdict) String() string {
	switch v {
	case vKeep:
		return "keep"
	case vDrop:
		return "drop"
	case vOrphan:
		return "orphan"
	case vConflict:
		return "conflict"
	}
	return "invalid"
}

// facts is what a pass knows of one companion name.
type facts struct {
	// Registered: a registered app lists the companion.
	Registered bool
	// File: name.container exists; Marked: it carries skerry's marker.
	File, Marked bool
	// Tomb: a removal began and was not finished (a tombstone of skerry's exists).
	Tomb bool
	// OwnerKnown: the app the marker (or tombstone) names is registered.
	OwnerKnown bool
	// OwnerRemoving: that app is being removed (Remove was called and has not completed).
	OwnerRemoving bool
	// Prune: Options.PruneOrphans.
	Prune bool
}

// decide is the pure decision table of a pass over one companion name:
//
//	a file skerry did not write holds the name       -> vConflict (never touched)
//	registered                                       -> vKeep
//	its app is being removed                         -> vDrop
//	a removal was begun (tombstone)                  -> vDrop (finish it)
//	its app is registered but no longer lists it     -> vDrop
//	its app is unknown, PruneOrphans set             -> vDrop
//	its app is unknown                               -> vOrphan (reported, left running)
//
// So a manager with nothing registered removes nothing but what it had begun to remove.
func decide(f facts) verdict {
	switch {
	case f.File && !f.Marked:
		return vConflict
	case f.Registered:
		return vKeep
	case f.OwnerRemoving, f.Tomb, f.OwnerKnown, f.Prune:
		return vDrop
	}
	return vOrphan
}

// Action is what a pass did to a companion's unit. The zero value means nothing was done.
type Action string

// The actions.
const (
	ActionNone      Action = "none"
	ActionStarted   Action = "started"
	ActionRestarted Action = "restarted"
	// ActionRemoved: stopped, its file deleted, systemd reloaded.
	ActionRemoved Action = "removed"
)

// Status is a companion's state as a pass leaves it. The zero value is unknown.
type Status string

// The statuses.
const (
	StatusUnknown Status = ""
	// StatusActive: running (for Notify=healthy units: healthy at start).
	StatusActive Status = "active"
	// StatusStarting: a start job is running (for Notify=healthy: waiting for the first check).
	StatusStarting Status = "starting"
	// StatusRestarting: its process died and systemd waits RestartSec to respawn it.
	StatusRestarting Status = "restarting"
	// StatusFailed: systemd gave up on it (a failed start, the start limit hit).
	StatusFailed Status = "failed"
	// StatusInactive: not running (stopped, or in the middle of a stop).
	StatusInactive Status = "inactive"
	// StatusOrphan: a companion of an app this manager does not know, left as it is.
	StatusOrphan Status = "orphan"
	// StatusRemoved: removed by this pass.
	StatusRemoved Status = "removed"
	// StatusConflict: its unit file was not written by skerry and was left alone.
	StatusConflict Status = "conflict"
)

// statusOf judges a unit state.
func statusOf(st quadlet.UnitState) Status {
	switch st.ActiveState {
	case "active", "reloading":
		return StatusActive
	case "activating":
		if st.SubState == "auto-restart" {
			return StatusRestarting
		}
		return StatusStarting
	case "failed":
		return StatusFailed
	case "inactive", "deactivating":
		return StatusInactive
	}
	return StatusUnknown
}
