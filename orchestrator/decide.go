package orchestrator

import (
	"fmt"
	"time"

	"github.com/skerry-dev/skerry/runtime"
)

// Action is what the orchestrator does to one app's container. The zero value is ActionNone.
type Action int

// The actions.
const (
	// ActionNone: the container is as desired.
	ActionNone Action = iota
	// ActionWait: something should be done but not now (crash-loop backoff until NotBefore, a
	// dependency not ready, a health check still starting).
	ActionWait
	// ActionCreate: the container is missing; create it, then start it.
	ActionCreate
	// ActionStart: the container is stopped or exited; start it.
	ActionStart
	// ActionRestart: stop, then start (unhealthy past its threshold, or a hook rewrote config).
	ActionRestart
	// ActionRecreate: force-remove (volumes kept), create, start (wedged state or spec drift).
	ActionRecreate
	// ActionRemove: the app is no longer desired; disable companions, stop, remove.
	ActionRemove
)

var actionNames = [...]string{"none", "wait", "create", "start", "restart", "recreate", "remove"}

func (a Action) String() string {
	if a < 0 || int(a) >= len(actionNames) {
		return fmt.Sprintf("action(%d)", int(a))
	}
	return actionNames[a]
}

// Starts reports whether the action ends with the container being started.
func (a Action) Starts() bool {
	return a == ActionCreate || a == ActionStart || a == ActionRestart || a == ActionRecreate
}

// Facts is everything Decide looks at. It is plain data: the caller observes, Decide decides.
type Facts struct {
	// Desired is false when the app is to be removed.
	Desired bool
	// SpecHash is the hash of the desired container spec (runtime.SpecHash).
	SpecHash string
	// Observed is the container as the engine reports it; runtime.Missing when absent.
	Observed runtime.Observation
	// Health is the app's committed health while running: HealthHealthy, HealthUnhealthy
	// (past its failure threshold), HealthStarting (no verdict yet) or HealthNone (no check).
	Health runtime.Health
	// HookChanged reports that a pre-start hook rewrote the app's config in this pass.
	HookChanged bool
	// WaitingFor names a dependency that is not ready; "" when all are.
	WaitingFor string
	// Backoff is the app's crash-loop backoff state.
	Backoff Backoff
	// Now is the decision's time; Decide never reads the clock.
	Now time.Time
}

// Decision is Decide's answer.
type Decision struct {
	Action Action
	// Reason says why, for reports and logs.
	Reason string
	// NotBefore is set with ActionWait for a backoff: the earliest time the action may run.
	NotBefore time.Time
	// CountsAsRetry is set when the action restarts a crashed or unhealthy container (or
	// recreates a wedged one): the caller records it in the backoff.
	CountsAsRetry bool
}

// Decide is the lifecycle state machine: from the desired state and what was observed, the one
// action that moves the app towards its desired state. It is pure and level-based: the same
// facts give the same decision, whatever happened before.
//
//	observed                                   action
//	desired absent, container missing          none
//	desired absent, container present          remove
//	missing                                    create
//	present, spec hash differs (drift)         recreate
//	created/paused/unknown/removing/stopping   recreate, under backoff
//	stopped/exited                             start, under backoff
//	running, unhealthy past threshold          restart, under backoff
//	running, a hook rewrote config             restart
//	running, health starting                   wait
//	running, healthy or no check               none
//
// Every action that starts the container waits (ActionWait) while a dependency is not ready; a
// running container is left running when a dependency fails.
func Decide(f Facts) Decision {
	o := f.Observed
	if !f.Desired {
		if o.State == runtime.StateMissing {
			return Decision{Action: ActionNone, Reason: "not desired and absent"}
		}
		return Decision{Action: ActionRemove, Reason: "not desired"}
	}
	d := decidePresent(f)
	if d.Action.Starts() && f.WaitingFor != "" {
		return Decision{Action: ActionWait, Reason: "waiting for " + f.WaitingFor}
	}
	if d.CountsAsRetry && f.Now.Before(f.Backoff.NotBefore) {
		return Decision{
			Action:    ActionWait,
			Reason:    fmt.Sprintf("crash-loop backoff: %s, retry %d at %s", d.Reason, f.Backoff.Retries+1, f.Backoff.NotBefore.Format(time.RFC3339)),
			NotBefore: f.Backoff.NotBefore,
		}
	}
	return d
}

func decidePresent(f Facts) Decision {
	o := f.Observed
	switch {
	case o.State == runtime.StateMissing:
		return Decision{Action: ActionCreate, Reason: "missing"}
	case o.SpecHash() != f.SpecHash:
		return Decision{Action: ActionRecreate, Reason: fmt.Sprintf("spec drifted (%s -> %s)", orNone(o.SpecHash()), f.SpecHash)}
	}
	switch o.State {
	case runtime.StateStopped, runtime.StateExited:
		return Decision{Action: ActionStart, Reason: fmt.Sprintf("%s (exit code %d)", o.State, o.ExitCode), CountsAsRetry: true}
	case runtime.StateRunning:
		switch {
		case f.Health == runtime.HealthUnhealthy:
			return Decision{Action: ActionRestart, Reason: "unhealthy", CountsAsRetry: true}
		case f.HookChanged:
			return Decision{Action: ActionRestart, Reason: "a pre-start hook rewrote its config"}
		case f.Health == runtime.HealthStarting:
			return Decision{Action: ActionWait, Reason: "health check starting"}
		}
		if f.Health == runtime.HealthHealthy {
			return Decision{Action: ActionNone, Reason: "running, healthy"}
		}
		return Decision{Action: ActionNone, Reason: "running"}
	}
	// Created, Paused, Unknown, Removing, Stopping: wedged.
	return Decision{Action: ActionRecreate, Reason: "wedged in state " + o.State.String(), CountsAsRetry: true}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
