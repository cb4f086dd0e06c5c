// Package fake is an in-memory, deterministic runtime.Runtime for tests: users' own tests as
// well as skerry's. It counts calls per operation, injects faults (failing calls, hanging calls,
// containers that die after start, stay Created or turn unhealthy, missing images) and offers
// tampering helpers that act behind the orchestrator's back, as a user or a crash would.
//
// Time is read with time.Now, so a test inside a testing/synctest bubble controls it fully.
package fake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/skerry-dev/skerry/internal/broadcast"
	"github.com/skerry-dev/skerry/runtime"
)

// Op names a Runtime operation, for call counting and fault injection.
type Op string

// The operations.
const (
	OpList           Op = "list"
	OpInspect        Op = "inspect"
	OpCreate         Op = "create"
	OpStart          Op = "start"
	OpStop           Op = "stop"
	OpKill           Op = "kill"
	OpRemove         Op = "remove"
	OpImageExists    Op = "image-exists"
	OpPull           Op = "pull"
	OpBuild          Op = "build"
	OpRunHealthCheck Op = "healthcheck"
	OpLogs           Op = "logs"
	OpWaitExit       Op = "wait-exit"
	OpRename         Op = "rename"
)

// Runtime is the fake engine. The zero value is not usable; call New.
type Runtime struct {
	mu         sync.Mutex
	containers map[string]*container
	images     map[string]bool
	volumes    map[string]bool
	networks   map[string]runtime.NetworkInfo
	vols       volumeState
	pullable   map[string]bool
	calls      map[Op]int
	failures   map[Op][]failure
	hang       map[Op]bool
	behaviour  map[string]Behaviour
	imageBehav map[string]Behaviour
	tagMoves   map[string]int    // how often MoveTag moved a ref (images.go)
	leftImages map[string]string // image ID -> the ref that named it before MoveTag
	nextID     int
	events     broadcast.Broadcaster[runtime.Event]
	// changes carries the name of every container whose state changed, managed or not: what
	// WaitExit waits on.
	changes broadcast.Broadcaster[string]
}

var (
	_ runtime.Runtime      = (*Runtime)(nil)
	_ runtime.EventSource  = (*Runtime)(nil)
	_ runtime.HealthRunner = (*Runtime)(nil)
	_ runtime.LogReader    = (*Runtime)(nil)
	_ runtime.ExitWaiter   = (*Runtime)(nil)
)

type container struct {
	spec   runtime.ContainerSpec
	id     string
	state  runtime.State
	health runtime.Health
	// probe is what the health check finds when it runs; with an engine-scheduled check
	// (Interval > 0) it is recorded into health at once, as if the engine's timer had just run.
	probe    runtime.Health
	exitCode int
	started  time.Time
	finished time.Time
	dieAt    time.Time // zero: lives until stopped
	imageID  string    // the image its spec's tag named when it was created
	logs     []string
}

type failure struct {
	nth int // absolute call number of the op that fails
	err error
}

// Behaviour is how the processes of one container behave after each start. The zero value is a
// well-behaved process: it runs until stopped and its health check passes.
type Behaviour struct {
	// DieAfter makes the process exit with ExitCode this long after each start (0: never).
	DieAfter time.Duration
	ExitCode int
	// StuckCreated makes Start return nil while the container stays Created.
	StuckCreated bool
	// Unhealthy makes the health check fail after each start.
	Unhealthy bool
}

// New returns an empty engine: no containers and no images. Add images with AddImage; refs
// given to MakePullable can be pulled.
func New() *Runtime {
	return &Runtime{
		containers: map[string]*container{},
		images:     map[string]bool{},
		volumes:    map[string]bool{},
		networks:   map[string]runtime.NetworkInfo{},
		pullable:   map[string]bool{},
		calls:      map[Op]int{},
		failures:   map[Op][]failure{},
		hang:       map[Op]bool{},
		behaviour:  map[string]Behaviour{},
		imageBehav: map[string]Behaviour{},
	}
}

// AddImage makes refs present locally.
func (r *Runtime) AddImage(refs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ref := range refs {
		r.images[ref] = true
	}
}

// RemoveImage makes ref absent locally.
func (r *Runtime) RemoveImage(ref string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.images, ref)
}

// MakePullable lets Pull fetch refs.
func (r *Runtime) MakePullable(refs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ref := range refs {
		r.pullable[ref] = true
	}
}

// Events implements runtime.EventSource: create, start, died, health_status, pause and
// remove events of managed containers, whether the orchestrator or a tampering helper caused
// them. A subscriber that falls more than 1024 events behind loses events (as a real stream
// can). The channel closes when ctx ends.
func (r *Runtime) Events(ctx context.Context) (<-chan runtime.Event, error) {
	return r.events.Subscribe(ctx, 1024, nil), nil
}

// emit sends an event about c to every subscriber. Called with r.mu held; never blocks.
func (r *Runtime) emit(c *container, kind string) {
	r.changes.Send(c.spec.Name)
	if c.spec.Labels[runtime.LabelManaged] != "true" {
		return
	}
	e := runtime.Event{Container: c.spec.Name, App: c.spec.Labels[runtime.LabelApp], Kind: kind, Time: time.Now()}
	if kind == "health_status" {
		e.Health = c.health
	}
	r.events.Send(e)
}

// --- runtime.Runtime ---

// List implements runtime.Containers. Observations are sorted by name.
func (r *Runtime) List(ctx context.Context, opts runtime.ListOptions) ([]runtime.Observation, error) {
	if err := r.enter(ctx, OpList); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	var out []runtime.Observation
	for _, name := range slices.Sorted(maps.Keys(r.containers)) {
		c := r.containers[name]
		if matches(c.spec.Labels, opts.Labels) {
			out = append(out, c.observe())
		}
	}
	return out, nil
}

func matches(labels, want map[string]string) bool {
	for k, v := range want {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func (c *container) observe() runtime.Observation {
	h := runtime.HealthNone
	if c.spec.HealthCheck != nil {
		h = c.health
		if c.state != runtime.StateRunning && h == runtime.HealthUnknown {
			h = runtime.HealthStarting
		}
	}
	return runtime.Observation{
		Name: c.spec.Name, ID: c.id, Image: c.spec.Image, ImageID: c.imageID,
		State: c.state, Health: h, ExitCode: c.exitCode,
		StartedAt: c.started, FinishedAt: c.finished,
		Labels: maps.Clone(c.spec.Labels), Mounts: slices.Clone(c.spec.Mounts),
	}
}

// Inspect implements runtime.Containers. Like podman's, it takes a container's name or ID.
func (r *Runtime) Inspect(ctx context.Context, name string) (runtime.Observation, error) {
	if err := r.enter(ctx, OpInspect); err != nil {
		return runtime.Observation{}, err
	}
	defer r.mu.Unlock()
	c, ok := r.containers[name]
	for _, other := range r.containers {
		if !ok && other.id == name {
			c, ok = other, true
		}
	}
	if !ok {
		return runtime.Observation{}, notFound(name)
	}
	return c.observe(), nil
}

func notFound(name string) error { return fmt.Errorf("fake: %q: %w", name, runtime.ErrNotFound) }

// Create implements runtime.Containers. Named volumes the spec mounts are created if absent.
func (r *Runtime) Create(ctx context.Context, spec runtime.ContainerSpec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	if err := r.enter(ctx, OpCreate); err != nil {
		return err
	}
	defer r.mu.Unlock()
	if _, ok := r.containers[spec.Name]; ok {
		return fmt.Errorf("fake: %q: %w", spec.Name, runtime.ErrAlreadyExists)
	}
	if !r.images[spec.Image] {
		return fmt.Errorf("fake: %q: %w", spec.Image, runtime.ErrImageNotFound)
	}
	if err := r.checkNetwork(spec); err != nil {
		return err
	}
	for _, m := range spec.Mounts {
		if m.Type == runtime.MountVolume {
			r.volumes[m.Source] = true
		}
	}
	r.nextID++
	spec.Labels = maps.Clone(spec.Labels)
	c := &container{spec: spec, id: containerID(r.nextID), state: runtime.StateCreated, imageID: r.imageID(spec.Image)}
	r.containers[spec.Name] = c
	r.emit(c, "create")
	return nil
}

// Start implements runtime.Containers.
func (r *Runtime) Start(ctx context.Context, name string) error {
	if err := r.enter(ctx, OpStart); err != nil {
		return err
	}
	defer r.mu.Unlock()
	c, ok := r.containers[name]
	if !ok {
		return notFound(name)
	}
	switch c.state {
	case runtime.StateRunning:
		return nil
	case runtime.StatePaused, runtime.StateRemoving, runtime.StateStopping:
		return fmt.Errorf("fake: start %q: container is %s", name, c.state)
	}
	b := r.behaviourOf(c)
	if b.StuckCreated {
		c.state = runtime.StateCreated
		return nil
	}
	now := time.Now()
	c.state, c.started, c.finished, c.exitCode = runtime.StateRunning, now, time.Time{}, 0
	c.probe = runtime.HealthHealthy
	if b.Unhealthy {
		c.probe = runtime.HealthUnhealthy
	}
	c.health = c.probe
	if !c.engineScheduled() {
		c.health = runtime.HealthStarting
	}
	c.dieAt = time.Time{}
	if b.DieAfter > 0 {
		c.dieAt = now.Add(b.DieAfter)
	}
	c.logs = append(c.logs, "fake: started "+c.spec.Image)
	r.startWrites(c)
	r.emit(c, "start")
	return nil
}

// Stop implements runtime.Containers.
func (r *Runtime) Stop(ctx context.Context, name string, _ time.Duration) error {
	if err := r.enter(ctx, OpStop); err != nil {
		return err
	}
	defer r.mu.Unlock()
	c, ok := r.containers[name]
	if !ok {
		return notFound(name)
	}
	if c.state == runtime.StateRunning || c.state == runtime.StatePaused || c.state == runtime.StateStopping {
		c.halt(0)
		r.emit(c, "died")
	}
	return nil
}

func (c *container) halt(code int) {
	c.state, c.exitCode, c.finished, c.dieAt = runtime.StateExited, code, time.Now(), time.Time{}
	c.health = runtime.HealthUnknown
}

// Kill implements runtime.Containers.
func (r *Runtime) Kill(ctx context.Context, name, _ string) error {
	if err := r.enter(ctx, OpKill); err != nil {
		return err
	}
	defer r.mu.Unlock()
	c, ok := r.containers[name]
	if !ok {
		return notFound(name)
	}
	if c.state != runtime.StateRunning {
		return fmt.Errorf("fake: kill %q: container is %s", name, c.state)
	}
	c.halt(137)
	r.emit(c, "died")
	return nil
}

// Remove implements runtime.Containers.
func (r *Runtime) Remove(ctx context.Context, name string, opts runtime.RemoveOptions) error {
	if err := r.enter(ctx, OpRemove); err != nil {
		return err
	}
	defer r.mu.Unlock()
	c, ok := r.containers[name]
	if !ok {
		return notFound(name)
	}
	if c.state == runtime.StateRunning && !opts.Force {
		return fmt.Errorf("fake: remove %q: container is running", name)
	}
	delete(r.containers, name)
	r.emit(c, "remove")
	if opts.Volumes {
		for _, m := range c.spec.Mounts {
			if m.Type == runtime.MountVolume {
				delete(r.volumes, m.Source)
				delete(r.vols.files, m.Source)
			}
		}
	}
	return nil
}

// containerID returns the nth container ID: 64 hex digits, as podman's.
func containerID(n int) string { return fmt.Sprintf("%064x", n) }
