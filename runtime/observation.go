package runtime

import "time"

// State is a container's lifecycle state as skerry sees it. The zero value is StateUnknown.
type State int

// The states. StateMissing is never returned by an engine; it is what the orchestrator
// records for a container that List did not return.
const (
	StateUnknown State = iota
	StateMissing
	StateCreated
	StateRunning
	StatePaused
	StateStopped
	StateExited
	StateRemoving
	StateStopping
)

var stateNames = [...]string{"unknown", "missing", "created", "running", "paused", "stopped", "exited", "removing", "stopping"}

func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return "unknown"
	}
	return stateNames[s]
}

// ParseState maps an engine's state string (podman: created, initialized, running, paused,
// stopped, exited, removing, stopping, unknown; docker's "restarting" and "dead" too) to a
// State. Anything else is StateUnknown.
func ParseState(s string) State {
	switch s {
	case "created", "configured", "initialized":
		return StateCreated
	case "running":
		return StateRunning
	case "paused":
		return StatePaused
	case "stopped":
		return StateStopped
	case "exited", "dead":
		return StateExited
	case "removing":
		return StateRemoving
	case "stopping":
		return StateStopping
	}
	return StateUnknown
}

// Health is the result of a container's health check. The zero value is HealthUnknown.
type Health int

// The health values. HealthNone means the container has no health check.
const (
	HealthUnknown Health = iota
	HealthNone
	HealthStarting
	HealthHealthy
	HealthUnhealthy
)

var healthNames = [...]string{"unknown", "none", "starting", "healthy", "unhealthy"}

func (h Health) String() string {
	if h < 0 || int(h) >= len(healthNames) {
		return "unknown"
	}
	return healthNames[h]
}

// ParseHealth maps an engine's health string (healthy, unhealthy, starting, "" for no check).
func ParseHealth(s string) Health {
	switch s {
	case "":
		return HealthNone
	case "starting":
		return HealthStarting
	case "healthy":
		return HealthHealthy
	case "unhealthy":
		return HealthUnhealthy
	}
	return HealthUnknown
}

// Observation is what the engine reports of one container.
type Observation struct {
	Name string
	ID   string
	// Image is the image reference the container was created from.
	Image string
	// ImageID is the ID of the image the container runs ("" when the engine does not say). A
	// tag that now names another image ID has moved: see ImageResolver.
	ImageID  string
	State    State
	Health   Health
	ExitCode int
	// StartedAt and FinishedAt are zero when unknown.
	StartedAt  time.Time
	FinishedAt time.Time
	Labels     map[string]string
	// Mounts are the container's volumes and bind mounts. Inspect fills them; List may not.
	Mounts []Mount
}

// Managed reports whether skerry created the container (it carries LabelManaged=true).
func (o Observation) Managed() bool { return o.Labels[LabelManaged] == "true" }

// SpecHash returns the LabelSpecHash label, "" when absent.
func (o Observation) SpecHash() string { return o.Labels[LabelSpecHash] }

// App returns the LabelApp label, "" when absent.
func (o Observation) App() string { return o.Labels[LabelApp] }

// Missing is the observation of a container that does not exist.
func Missing(name string) Observation { return Observation{Name: name, State: StateMissing} }
