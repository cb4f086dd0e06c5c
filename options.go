package skerry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/reconciler"
	"github.com/skerry-dev/skerry/runtime"
)

// DefaultInterval is the time between the end of one periodic pass and the start of the next.
const DefaultInterval = reconciler.DefaultInterval

// DefaultShutdownTimeout bounds how long Run takes to return once its context ends: well under
// systemd's default stop timeout of 90 s, so that a daemon stopped by systemd exits on its own.
const DefaultShutdownTimeout = 20 * time.Second

// Errors of the supervisor; test them with errors.Is.
var (
	// ErrShutdownTimeout: Run's context ended and work in flight did not end within
	// Options.ShutdownTimeout (a runtime call that ignores its context); Run returned anyway.
	ErrShutdownTimeout = errors.New("shutdown timed out")
	// ErrRunning: Run was called while another Run of the same supervisor runs.
	ErrRunning = errors.New("supervisor already running")
	// ErrNoUnitManager: an app has companions but the supervisor was built without a unit
	// manager to run them. It matches runtime.ErrInvalidSpec too, like every refusal of New
	// and Install.
	ErrNoUnitManager = fmt.Errorf("companions need a unit manager: %w", runtime.ErrInvalidSpec)
)

// OptionError is a bad Options field. It matches runtime.ErrInvalidSpec with errors.Is: New
// returned before any side effect.
type OptionError struct {
	Field  string
	Reason string
}

func (e *OptionError) Error() string { return fmt.Sprintf("skerry: option %s: %s", e.Field, e.Reason) }

// Is makes an OptionError match runtime.ErrInvalidSpec.
func (e *OptionError) Is(target error) bool { return target == runtime.ErrInvalidSpec }

// App is one app the supervisor keeps in its desired state: its container and the companion
// containers (web UIs ...) that systemd runs beside it once the app is ready.
type App struct {
	orchestrator.App
	// Companions are rendered as Quadlet units; they need a unit manager (see New).
	Companions []companion.Spec
}

// Options configure a Supervisor. The zero value is usable.
type Options struct {
	// Interval is the time between periodic passes over every app and companion (default
	// DefaultInterval). Events, exits and unit changes get passes of their own in between.
	Interval time.Duration
	// ShutdownTimeout bounds how long Run takes to return after its context ends (default
	// DefaultShutdownTimeout). Passes in flight may finish during its first half; then their
	// context is cancelled (a readiness wait is abandoned, the container left as it is for the
	// next start to judge) and Run waits the second half for them to unwind.
	ShutdownTimeout time.Duration
	// PassTimeout bounds one periodic pass (default reconciler.DefaultPassTimeout).
	PassTimeout time.Duration
	// Workers bounds how many apps a pass handles in parallel (default 4).
	Workers int
	// EngineExecChecks leaves the apps' exec health checks to the engine's own timers (podman:
	// a systemd timer and a `podman healthcheck run` process per check). By default the
	// supervisor runs them itself, which is much cheaper for the node
	// (orchestrator.Options.ScheduleExecChecks), when the runtime can run checks.
	EngineExecChecks bool
	// PeriodicOnly runs the periodic passes alone: no event, exit or unit watch, and the
	// exec checks are left to the engine. For measurements and runtimes without events; a
	// node's daemon wants the watches.
	PeriodicOnly bool
	// Secrets stores the apps' secrets and fingerprints their rendered files (see
	// orchestrator.Options.Secrets). Default: the runtime, when it is a runtime.SecretStore
	// (the podman runtime is).
	Secrets runtime.SecretStore
	// PruneOrphans removes managed containers of apps the supervisor does not know (see
	// orchestrator.Options.PruneOrphans). Off by default.
	PruneOrphans bool
	// SnapshotDir is where the volumes apps mark (orchestrator.App.SnapshotVolumes) are
	// snapshotted before an upgrade (see orchestrator.Options.SnapshotDir). Required by apps
	// that mark volumes.
	SnapshotDir string
	// ImageRecheck and KeepImages are orchestrator.Options': how often passes look again at
	// what the apps' image tags name (a moved tag is an upgrade), and turning off the pruning
	// of managed apps' unused images. ImageRecheck is also the companions' (a moved tag
	// restarts a companion onto it) unless Companions.ImageRecheck is set.
	ImageRecheck time.Duration
	KeepImages   bool
	// Companions configure the companion manager (unit directory, podman target, registries);
	// its Logger defaults to Logger, its ImageRecheck to ImageRecheck. The supervisor shows
	// its pulls in the status (CompanionStatus.Pull), and calls an OnPull set here as well.
	Companions companion.Options
	// OnReport receives the report of every pass: periodic, event-driven, unit-driven, and the
	// explicit Install and Uninstall, in the order they ended. Calls never overlap; it must not
	// block for long. It may call Install, Uninstall and Status (their reports follow once it
	// returned).
	OnReport func(Report)
	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger
}

// UnitWatcher is the optional capability of a unit manager to stream the state changes of
// units ((*systemd.Manager).UnitChanges; quadlet/fake has it too). With it, a companion stopped
// or failed under systemd gets a pass of its own at once instead of at the next periodic pass.
type UnitWatcher interface {
	UnitChanges(ctx context.Context, units []string) (<-chan string, error)
}

// withDefaults validates o and fills in its defaults.
func (o Options) withDefaults() (Options, error) {
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"Interval", o.Interval}, {"ShutdownTimeout", o.ShutdownTimeout}, {"PassTimeout", o.PassTimeout}} {
		if d.v < 0 {
			return o, &OptionError{d.field, fmt.Sprintf("%v is negative", d.v)}
		}
	}
	if o.Workers < 0 {
		return o, &OptionError{"Workers", fmt.Sprintf("%d is negative", o.Workers)}
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.PassTimeout == 0 {
		o.PassTimeout = reconciler.DefaultPassTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Companions.ImageRecheck == 0 {
		o.Companions.ImageRecheck = o.ImageRecheck
	}
	if o.Companions.Logger == nil {
		o.Companions.Logger = o.Logger
	}
	return o, nil
}
