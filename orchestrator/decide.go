package orchestrator

import (
	"fmt"
	"strings"
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
	// ActionStop: a dependency failed and the app asked to be stopped with it.
	ActionStop
	// ActionConflict: a container of the app's name exists that skerry did not create and
	// cannot adopt without losing something; it is left alone and reported.
	ActionConflict
)

var actionNames = [...]string{"none", "wait", "create", "start", "restart", "recreate", "remove", "stop", "conflict"}

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
	// Image is the desired spec's image, for the reason of a drift ("" is fine).
	Image string
	// ImageID is the ID of the local image that Image, a tag, names now; "" when it is not
	// known (a digest reference, a runtime without runtime.ImageResolver, not resolved yet).
	// A container of the desired spec that runs another image (Observed.ImageID) is drift:
	// the tag moved (a pull or a build replaced it), an upgrade like a changed spec.
	ImageID string
	// FailedImageID is the image a moved tag named when its upgrade did not come up (the app is
	// held off it, see Rollback): while the tag still names it, that is no drift.
	FailedImageID string
	// Observed is the container as the engine reports it; runtime.Missing when absent.
	Observed runtime.Observation
	// Health is the app's committed health while running: HealthHealthy, HealthUnhealthy
	// (past its failure threshold), HealthStarting (no verdict yet) or HealthNone (no check).
	Health runtime.Health
	// HookChanged reports that a pre-start hook rewrote the app's config in this pass.
	HookChanged bool
	// WaitingFor names a dependency that is not ready; "" when all are.
	WaitingFor string
	// StopWith is set when WaitingFor names a dependency the app must not run without
	// (Dependency.StopOnFailure).
	StopWith bool
	// Foreign is set when the observed container was not created by skerry (no
	// runtime.LabelManaged): made by hand or by an older tool.
	Foreign bool
	// AdoptBlocker says why a foreign container cannot be adopted ("" when it can: see
	// AdoptionBlocker).
	AdoptBlocker string
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
//	a container skerry did not create          recreate to adopt it when that loses nothing,
//	                                           else conflict (never removed)
//	desired absent, container missing          none
//	desired absent, container present          remove
//	missing                                    create
//	present, spec hash differs (drift)         recreate
//	present, the tag names another image       recreate (unless that image is the failed one
//	(moved tag: ImageID, Observed.ImageID)     the app is held off: FailedImageID)
//	created/paused/unknown/removing/stopping   recreate, under backoff
//	stopped/exited                             start, under backoff
//	running, unhealthy past threshold          restart, under backoff
//	running, a hook rewrote config             restart
//	running, health starting                   wait
//	running, healthy or no check               none
//
// Every action that starts the container waits (ActionWait) while a dependency is not ready; a
// running container is left running when a dependency fails, unless the dependency says
// StopOnFailure: then it is stopped (ActionStop) and started again once the dependency is back.
func Decide(f Facts) Decision {
	o := f.Observed
	if f.Foreign && o.State != runtime.StateMissing {
		switch {
		case !f.Desired:
			return Decision{Action: ActionConflict, Reason: "not removing a container skerry did not create"}
		case f.AdoptBlocker != "":
			return Decision{Action: ActionConflict, Reason: "a container skerry did not create holds the name and cannot be adopted: " + f.AdoptBlocker}
		case f.WaitingFor != "":
			return Decision{Action: ActionWait, Reason: "waiting for " + f.WaitingFor}
		}
		return Decision{Action: ActionRecreate, Reason: "adopting a container created outside skerry (recreated with skerry's labels, volumes kept)"}
	}
	if !f.Desired {
		if o.State == runtime.StateMissing {
			return Decision{Action: ActionNone, Reason: "not desired and absent"}
		}
		return Decision{Action: ActionRemove, Reason: "not desired"}
	}
	if f.WaitingFor != "" && f.StopWith && (o.State == runtime.StateRunning || o.State == runtime.StatePaused) {
		return Decision{Action: ActionStop, Reason: "dependency failed: " + f.WaitingFor}
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
		return Decision{Action: ActionRecreate, Reason: drift(o, f.Image)}
	case TagMoved(f):
		return Decision{Action: ActionRecreate, Reason: fmt.Sprintf("new release: tag %s moved to image %s (the container runs %s)", f.Image, shortID(f.ImageID), shortID(o.ImageID))}
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

// TagMoved reports whether the facts show a moved tag: the container (of the desired spec) runs
// another image than the one its tag names now, and that image is not the one the app is held
// off. Unknown IDs ("") never count.
func TagMoved(f Facts) bool {
	o := f.Observed
	return f.ImageID != "" && o.ImageID != "" && o.State != runtime.StateMissing &&
		o.SpecHash() == f.SpecHash && f.ImageID != o.ImageID && f.ImageID != f.FailedImageID
}

// shortID shortens an image ID for a reason, as podman prints it.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// drift names what changed between the observed container and the desired spec: images when
// they differ (what a user recognises), else that the rest of the spec changed.
func drift(o runtime.Observation, image string) string {
	switch {
	case o.SpecHash() == "":
		return "created without a spec hash"
	case image != "" && o.Image != image:
		return fmt.Sprintf("new release: image %s -> %s", o.Image, image)
	}
	return fmt.Sprintf("spec changed (image %s kept)", o.Image)
}

// AdoptionBlocker tells why a container that skerry did not create cannot be adopted as spec
// (recreated with skerry's labels), or "" when it can: its image must be spec's, and every named
// volume it mounts must be mounted by spec at the same place, so that recreation loses no data.
// It reads obs.Mounts, which Inspect fills.
func AdoptionBlocker(spec runtime.ContainerSpec, obs runtime.Observation) string {
	if normalizeImage(obs.Image) != normalizeImage(spec.Image) {
		return fmt.Sprintf("it runs image %s, the app wants %s", obs.Image, spec.Image)
	}
	for _, m := range obs.Mounts {
		if m.Type != runtime.MountVolume {
			continue
		}
		kept := false
		for _, w := range spec.Mounts {
			kept = kept || (w.Type == runtime.MountVolume && w.Source == m.Source && w.Target == m.Target)
		}
		if !kept {
			return fmt.Sprintf("its volume %s at %s is not in the app's spec", m.Source, m.Target)
		}
	}
	return ""
}

// normalizeImage makes "busybox" and "docker.io/library/busybox:latest" compare equal.
func normalizeImage(ref string) string {
	last := ref[strings.LastIndex(ref, "/")+1:]
	if !strings.Contains(last, ":") && !strings.Contains(ref, "@") {
		ref += ":latest"
	}
	first, _, found := strings.Cut(ref, "/")
	if !found || !(strings.ContainsAny(first, ".:") || first == "localhost") {
		if !strings.Contains(ref, "/") {
			ref = "library/" + ref
		}
		ref = "docker.io/" + ref
	}
	return ref
}
