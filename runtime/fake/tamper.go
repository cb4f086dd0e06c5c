package fake

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/skerry-dev/skerry/runtime"
)

// --- inspection and tampering helpers (not counted as calls, no faults) ---

// Container returns the spec and current observation of name, and whether it exists.
func (r *Runtime) Container(name string) (runtime.ContainerSpec, runtime.Observation, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.advance(time.Now())
	c, ok := r.containers[name]
	if !ok {
		return runtime.ContainerSpec{}, runtime.Missing(name), false
	}
	return c.spec, c.observe(), true
}

// Names returns the names of all containers, sorted.
func (r *Runtime) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.containers))
}

// Volumes returns the names of all named volumes, sorted.
func (r *Runtime) Volumes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.volumes))
}

// KillExternally kills name's process as a crash or `podman kill` would.
func (r *Runtime) KillExternally(name string) {
	r.tamper(name, func(c *container) {
		if c.state == runtime.StateRunning {
			c.halt(137)
			r.emit(c, "died")
		}
	})
}

// RemoveExternally removes name as `podman rm -f` would (volumes kept).
func (r *Runtime) RemoveExternally(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.containers[name]; ok {
		delete(r.containers, name)
		r.emit(c, "remove")
	}
}

// PauseExternally pauses a running container.
func (r *Runtime) PauseExternally(name string) {
	r.tamper(name, func(c *container) {
		if c.state == runtime.StateRunning {
			c.state = runtime.StatePaused
			r.emit(c, "pause")
		}
	})
}

// SetHealth changes what a running container's health check finds. A check the engine
// schedules (Interval > 0) records it at once, with a health_status event; a check of interval
// 0 records it when it next runs (RunHealthCheck).
func (r *Runtime) SetHealth(name string, h runtime.Health) {
	r.tamper(name, func(c *container) {
		if c.state != runtime.StateRunning {
			return
		}
		c.probe = h
		if c.engineScheduled() {
			c.health = h
			r.emit(c, "health_status")
		}
	})
}

// SetState forces a container into state s (e.g. StateRemoving, StateUnknown): an engine that
// got stuck.
func (r *Runtime) SetState(name string, s runtime.State) {
	r.tamper(name, func(c *container) {
		c.state = s
		r.changes.Send(name)
	})
}

// CreateExternally creates a container outside the orchestrator (by hand, or by an older tool).
func (r *Runtime) CreateExternally(spec runtime.ContainerSpec, s runtime.State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextID++
	spec.Labels = maps.Clone(spec.Labels)
	c := &container{spec: spec, id: containerID(r.nextID), state: s, imageID: r.imageID(spec.Image)}
	if s == runtime.StateRunning {
		c.started, c.health, c.probe = time.Now(), runtime.HealthHealthy, runtime.HealthHealthy
	}
	r.containers[spec.Name] = c
	for _, m := range spec.Mounts {
		if m.Type == runtime.MountVolume {
			r.volumes[m.Source] = true
		}
	}
}

func (r *Runtime) tamper(name string, f func(*container)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.advance(time.Now())
	if c, ok := r.containers[name]; ok {
		f(c)
	}
}

// String summarises the engine's containers, one "name=state/health" per container, sorted.
func (r *Runtime) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.advance(time.Now())
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(r.containers)) {
		o := r.containers[name].observe()
		parts = append(parts, fmt.Sprintf("%s=%s/%s", name, o.State, o.Health))
	}
	return strings.Join(parts, " ")
}
