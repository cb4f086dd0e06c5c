// Package runtime defines what skerry needs from a container engine: the Runtime interface, the
// engine-neutral ContainerSpec and Observation types, spec validation, and the sentinel errors
// every adapter returns. It imports only the standard library; adapters live in sub-packages
// (runtime/fake in memory, runtime/podman over the Podman REST API).
package runtime

import (
	"context"
	"time"
)

// Labels skerry sets on every container it manages. List selects on LabelManaged, so one call
// returns every managed container whatever their number.
const (
	// LabelManaged marks a container as managed by skerry; its value is "true".
	LabelManaged = "io.skerry.managed"
	// LabelApp holds the name of the app the container belongs to.
	LabelApp = "io.skerry.app"
	// LabelSpecHash holds the SpecHash of the spec the container was created from; a different
	// hash in the desired spec means the container has drifted and is recreated.
	LabelSpecHash = "io.skerry.spec-hash"
)

// Runtime is a container engine as the orchestrator uses it. Implementations must be safe for
// concurrent use and return the sentinel errors of this package (wrapped is fine) so that callers
// can test them with errors.Is.
//
// Optional capabilities are separate interfaces, found by type assertion: EventSource,
// ExitWaiter, HealthRunner, LogReader, NetworkManager, Renamer, VolumeSnapshotter,
// ImageResolver, ImagePruner (images.go).
type Runtime interface {
	Containers
	Images
}

// Containers is the container half of Runtime.
type Containers interface {
	// List returns every container whose labels match opts, in one engine call. Missing
	// containers are absent from the result (never reported with StateMissing).
	List(ctx context.Context, opts ListOptions) ([]Observation, error)
	// Inspect returns the observation of one container, or an error wrapping ErrNotFound.
	Inspect(ctx context.Context, name string) (Observation, error)
	// Create creates a container from spec without starting it. It fails with ErrAlreadyExists
	// when a container of that name exists and with ErrImageNotFound when the image is not
	// present locally (Create never pulls).
	Create(ctx context.Context, spec ContainerSpec) error
	// Start starts a created or stopped container. Starting a running container is not an error.
	Start(ctx context.Context, name string) error
	// Stop sends the stop signal and, after timeout, kills. Stopping a stopped container is not
	// an error.
	Stop(ctx context.Context, name string, timeout time.Duration) error
	// Kill sends signal (e.g. "SIGKILL") to the container's main process.
	Kill(ctx context.Context, name, signal string) error
	// Remove removes the container. Named volumes are kept unless opts.Volumes is set.
	Remove(ctx context.Context, name string, opts RemoveOptions) error
}

// Images is the image half of Runtime.
type Images interface {
	// ImageExists reports whether ref is present locally.
	ImageExists(ctx context.Context, ref string) (bool, error)
	// Pull fetches ref from its registry. TLS verification is off only when opts.Insecure is set.
	Pull(ctx context.Context, ref string, opts PullOptions) error
	// Build builds an image from a local context directory and tags it opts.Tag.
	Build(ctx context.Context, opts BuildOptions) error
}

// ListOptions selects containers by label.
type ListOptions struct {
	// Labels must all match ("key" -> "value"). An empty map lists every container.
	Labels map[string]string
}

// ManagedOnly selects the containers that carry LabelManaged=true.
func ManagedOnly() ListOptions {
	return ListOptions{Labels: map[string]string{LabelManaged: "true"}}
}

// RemoveOptions tune Remove.
type RemoveOptions struct {
	// Force removes a running container (killing it first).
	Force bool
	// Volumes also removes the container's named volumes. Off by default: data survives.
	Volumes bool
}

// PullOptions tune Pull.
type PullOptions struct {
	// Insecure turns off TLS verification for the registry. Callers set it only for a registry
	// the user whitelisted.
	Insecure bool
	// Progress, when set, is called from Pull's goroutine as the pull advances (see
	// PullProgress in images.go).
	Progress func(PullProgress)
}

// BuildOptions describe a local image build.
type BuildOptions struct {
	// ContextDir is the build context, an absolute directory.
	ContextDir string
	// Containerfile is the path of the Containerfile relative to ContextDir ("" = "Containerfile").
	Containerfile string
	// Tag names the built image.
	Tag string
}

// EventSource is implemented by runtimes that can stream container events.
type EventSource interface {
	// Events streams events of managed containers until ctx ends or the stream breaks; the
	// channel is closed then. The error reports a failure to open the stream.
	Events(ctx context.Context) (<-chan Event, error)
}

// Event is one container event.
type Event struct {
	// Container is the container's name.
	Container string
	// App is the value of LabelApp, when the event carried it.
	App string
	// Kind is the engine's event name: create, start, died, health_status, remove, ...
	Kind string
	// Health is the reported status of a health_status event (HealthUnknown when the engine
	// does not say).
	Health Health
	Time   time.Time
}

// HealthRunner is implemented by runtimes that can run a container's native health check on
// demand (podman healthcheck run) and record its result as a scheduled run would. The
// orchestrator uses it while waiting for a fresh container to become healthy instead of waiting
// for the engine's next scheduled check, and to schedule checks of interval 0 itself. A check
// of a container that is not running returns an error.
type HealthRunner interface {
	RunHealthCheck(ctx context.Context, name string) (Health, error)
}

// ExitWaiter is implemented by runtimes that can block until a container's process ends.
// The podman adapter waits on a pidfd of the container's monitor (conmon), falling back to
// podman's wait call, so an exit is seen within milliseconds, while podman's event log delivers
// the "died" event 200 to 500 ms late.
type ExitWaiter interface {
	// WaitExit returns nil when name is not running: at once when it is not running now, else
	// when its current run ends (exited, stopped, killed, removed). A paused container still
	// runs. ErrNotFound when there is no such container.
	WaitExit(ctx context.Context, name string) error
}

// LogReader is implemented by runtimes that can return a container's recent log lines.
type LogReader interface {
	// Logs returns up to tail of the last lines the container wrote (stdout and stderr).
	Logs(ctx context.Context, name string, tail int) ([]string, error)
}

// Renamer is implemented by runtimes that can rename a container (podman rename). The
// orchestrator uses it to keep an app's previous release, stopped and renamed, until the next
// one is ready, so that a failed upgrade can be undone even by a daemon restarted in between.
type Renamer interface {
	// Rename gives the container name the name to. ErrNotFound when there is no container
	// name, ErrAlreadyExists when a container is called to already.
	Rename(ctx context.Context, name, to string) error
}
