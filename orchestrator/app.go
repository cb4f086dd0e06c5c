package orchestrator

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/hooks"
	"github.com/skerry-dev/skerry/runtime"
)

// DefaultReadyTimeout bounds the wait for a started app to become healthy. Image pulls are not
// part of it.
const DefaultReadyTimeout = 2 * time.Minute

// DefaultMinUptime is how long a started container must stay running to count as ready where
// no passing check alone may say so (App.MinUptime): long enough to catch a process that dies
// right after `start` returned ("running but unreachable").
const DefaultMinUptime = 2 * time.Second

// App is the desired state of one app: its container, what healthy means, the hooks that run
// before it starts, and the apps it depends on.
type App struct {
	// Name is the app's name, also its container's name: 1-63 of [a-z0-9_.-].
	Name string
	// Container is the container's spec. Its Name may be empty (it is set to Name) and its
	// HealthCheck must be nil: use Health, whose exec checks become the native check.
	Container runtime.ContainerSpec
	// Health defines success: Install reports an app installed only once this check passes.
	Health health.Check
	// Hooks run before every start and on every reconcile pass.
	Hooks []hooks.Hook
	// DependsOn lists apps that must be ready before this one starts.
	DependsOn []Dependency
	// ReadyTimeout bounds the wait for healthy after a start (default DefaultReadyTimeout).
	ReadyTimeout time.Duration
	// MinUptime is how long a started container must stay running before it counts as ready
	// where its check alone does not decide (default DefaultMinUptime): an app without a
	// health check is ready once running for MinUptime (at least Health.StartPeriod); an
	// upgrade (and its rollback) is committed, its previous release removed, only once the new
	// release's check passed and it ran for MinUptime. Any other start of an app with a check
	// (install, bring-up, a restart after a crash, a recreate with no release to fall back to)
	// is ready at its first passing check; a death after that is a crash like any other,
	// restarted under the crash-loop backoff.
	MinUptime time.Duration
	// InsecurePull lets a missing image be pulled with TLS verification off. Set it only for an
	// image from a registry the user whitelisted.
	InsecurePull bool
	// Secrets supply the values of the secrets the app's container and its companions
	// reference (see Secret): each one referenced must be supplied here. Stored in
	// Options.Secrets at every pass, before the hooks run.
	Secrets []Secret
	// Networks are the networks the app owns (see Network): created before its container,
	// removed after its uninstall once nothing uses them. Its container, its companions and
	// other apps join one by name (runtime.Network{Mode: runtime.NetworkNamed, Name: ...}).
	Networks []Network
	// SnapshotVolumes are named volumes of the app's container that an upgrade copies into
	// Options.SnapshotDir once the old release is stopped, and that a rollback restores
	// exactly (added files deleted) before the old release starts again, also after a daemon
	// restart. Each must be a named volume the container mounts. Only marked volumes are
	// copied, so leave large ones out unless their data must survive a rollback; an upgrade
	// without room for them (see SnapshotMargin) is not started (ErrSnapshotSpace). Requires
	// Options.SnapshotDir and a runtime that is a runtime.VolumeSnapshotter and a
	// runtime.Renamer.
	SnapshotVolumes []string

	// inputs is the digest of the app's own inputs and consumed every consumer's inputs, as
	// the last pass computed them (see Secret).
	inputs   string
	consumed map[string]runtime.Inputs
}

// Condition is what a dependency must be for its dependants to start.
type Condition int

// The conditions. The zero value is Healthy.
const (
	Healthy Condition = iota
	Running
)

func (c Condition) String() string { return [...]string{"healthy", "running"}[c] }

// Dependency names an app and the condition it must meet before its dependant starts. A
// running dependant is left running when the dependency fails, unless StopOnFailure.
type Dependency struct {
	App       string
	Condition Condition
	// StopOnFailure stops the dependant while the dependency does not meet Condition; it is
	// started again once the dependency does.
	StopOnFailure bool
}

// Validate checks a and returns a *runtime.ValidationError listing every problem, or nil.
func (a App) Validate() error {
	var p runtime.Problems
	runtime.ValidateName(&p, "Name", a.Name)
	c := a.Container
	if c.Name != "" && c.Name != a.Name {
		p.Add("Container.Name", "%q differs from the app's name %q", c.Name, a.Name)
	}
	c.Name = a.Name
	if len(p) > 0 { // the name's problem is reported once, as Name
		c.Name = "x"
	}
	c.ValidateInto(&p, "Container.")
	for _, k := range slices.Sorted(maps.Keys(c.Labels)) {
		if runtime.IsReservedLabel(k) {
			p.Add("Container.Labels", "%q: the io.skerry. prefix is reserved", k)
		}
	}
	if c.HealthCheck != nil {
		p.Add("Container.HealthCheck", "must be nil: set App.Health instead")
	}
	a.Health.ValidateInto(&p, "")
	a.validateSecrets(&p)
	a.validateNetworks(&p)
	validateSnapshotVolumes(&p, a)
	runtime.ValidateDuration(&p, "ReadyTimeout", a.ReadyTimeout, 0, 24*time.Hour)
	runtime.ValidateDuration(&p, "MinUptime", a.MinUptime, 0, time.Hour)
	if up, ready := a.minUptime(), a.readyTimeout(); up >= ready && a.MinUptime < time.Hour && a.ReadyTimeout < 24*time.Hour {
		// Judged on the effective values: an app could never become ready.
		field := "MinUptime"
		if a.MinUptime == 0 {
			field = "ReadyTimeout" // the user set only that one
		}
		upDesc := effective(a.MinUptime, up)
		if a.MinUptime == 0 && up != DefaultMinUptime {
			upDesc = up.String() + " (Health.StartPeriod, the app having no check)"
		}
		p.Add(field, "MinUptime %s is not shorter than ReadyTimeout %s: the app could never become ready",
			upDesc, effective(a.ReadyTimeout, ready))
	}
	for i, h := range a.Hooks {
		if h == nil {
			p.Add(fmt.Sprintf("Hooks[%d]", i), "is nil")
		}
	}
	seen := map[string]bool{}
	for i, d := range a.DependsOn {
		f := fmt.Sprintf("DependsOn[%d]", i)
		switch {
		case d.App == a.Name:
			p.Add(f, "an app cannot depend on itself")
		case seen[d.App]:
			p.Add(f, "%q is listed twice", d.App)
		default:
			runtime.ValidateName(&p, f+".App", d.App)
		}
		seen[d.App] = true
		if d.Condition != Healthy && d.Condition != Running {
			p.Add(f+".Condition", "unknown condition %d", d.Condition)
		}
	}
	return p.Err(fmt.Sprintf("app %q", a.Name))
}

// ContainerSpec returns the container spec skerry creates for a with the engine scheduling its
// checks (the default): the app's name, the native health check of an exec check, skerry's
// labels including the spec hash.
func (a App) ContainerSpec() runtime.ContainerSpec { return a.containerSpec(false) }

// specOf returns the container spec o creates for app.
func (o *Orchestrator) specOf(app App) runtime.ContainerSpec {
	return app.containerSpec(o.opts.ScheduleExecChecks)
}

// containerSpec returns a's container spec; with scheduled, its exec check has interval 0: the
// engine runs it only when asked (Options.ScheduleExecChecks).
func (a App) containerSpec(scheduled bool) runtime.ContainerSpec {
	c := a.Container
	c.Name = a.Name
	c.HealthCheck = a.Health.Native()
	if c.HealthCheck != nil && scheduled {
		c.HealthCheck.Interval = 0
	}
	labels := maps.Clone(c.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	c.Labels = labels
	hash := runtime.WithInputs(runtime.SpecHash(c), a.inputs)
	if a.inputs != "" {
		labels[runtime.LabelInputs] = a.inputs
	}
	labels[runtime.LabelManaged] = "true"
	labels[runtime.LabelApp] = a.Name
	labels[runtime.LabelSpecHash] = hash
	return c
}

// effective names a setting's effective value for a message: "2s", or "2s (the default)" when
// set was zero and the default was used.
func effective(set, value time.Duration) string {
	if set == 0 {
		return value.String() + " (the default)"
	}
	return value.String()
}

func (a App) minUptime() time.Duration {
	d := a.MinUptime
	if d == 0 {
		d = DefaultMinUptime
	}
	if a.Health.Kind() == health.KindNone {
		d = max(d, a.Health.StartPeriod)
	}
	return d
}

func (a App) readyTimeout() time.Duration {
	if a.ReadyTimeout > 0 {
		return a.ReadyTimeout
	}
	return DefaultReadyTimeout
}
