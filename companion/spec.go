// Package companion owns the small containers that stand beside an app (its web UI, a proxy):
// their specs, their image-presence policy, and their life as Quadlet units handed to the
// systemd user manager, which supervises them (Restart=always) even when the embedding daemon
// is down. Its unit directory is the truth: every pass finds the units it wrote by their
// ownership marker and installs, removes or reports them, and every step is safe to crash after.
package companion

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/quadlet"
	"github.com/skerry-dev/skerry/runtime"
)

// Defaults for companion units.
const (
	// DefaultRestartSec is systemd's wait before respawning a companion that died.
	DefaultRestartSec = 10 * time.Second
	// DefaultTimeoutStartSec bounds a start (for Notify=healthy: until the first passing check).
	DefaultTimeoutStartSec = 2 * time.Minute
	// LabelCompanionOf marks a companion container with its app's name. Companions do not carry
	// runtime.LabelManaged: the orchestrator does not manage them, systemd does.
	LabelCompanionOf = "io.skerry.companion-of"
)

// Spec describes one companion container.
type Spec struct {
	// Name is the container's and the unit's base name ("bitcoind-ui" -> bitcoind-ui.container,
	// bitcoind-ui.service): 1-63 of [a-z0-9_.-].
	Name string
	// Image is the image reference. When it is not present locally it is built from Build, else
	// pulled (with TLS verification unless its registry is in Options.InsecureRegistries).
	Image string
	// Build, when set, builds Image from a local context directory.
	Build *Build
	// Command overrides the image's command.
	Command []string
	// Env holds environment variables. They are not for secrets: Quadlet renders them as
	// Environment= in the unit file and as --env on podman's command line, which
	// `systemctl --user cat`, `podman inspect` and ps show. Hand a secret over in Secrets.
	Env map[string]string
	// Secrets are stored secrets handed to the container by reference, rendered as Quadlet
	// Secret= (see inputs.go); their values come from the app's orchestrator.App.Secrets.
	Secrets []runtime.SecretRef
	// Network: host, the engine's default, or a named network, joined by name (Network=name):
	// e.g. the network the app owns (orchestrator.App.Networks), which the orchestrator creates
	// before the app's container and so before the app's companions are installed (podman keeps
	// networks across reboots). A companion systemd starts while its network is missing fails;
	// systemd restarts it (Restart=always) and a pass starts a failed one again, so it comes up
	// once the network is there.
	Network runtime.Network
	// Ports are published ports.
	Ports []runtime.Port
	// Mounts are named volumes and bind mounts, e.g. a rendered nginx.conf read-only.
	Mounts []runtime.Mount
	// CapAdd and CapDrop adjust capabilities.
	CapAdd, CapDrop []string
	// User is "uid[:gid]" or a name.
	User string
	// Health is an exec check; it becomes HealthCmd with Notify=healthy, so a start succeeds only
	// once the companion is healthy. HTTP and TCP checks are not supported for companions.
	Health health.Check
	// RestartSec is systemd's wait before a respawn (default DefaultRestartSec).
	RestartSec time.Duration
	// StopTimeout is how long a stop waits for the process before killing it (0: podman's
	// default, 10 s). The unit's TimeoutStopSec is StopTimeout + StopGrace.
	StopTimeout time.Duration
	// Resources are the companion's cgroup limits: Memory as Quadlet's Memory= (podman 5.5;
	// for an older target it needs Options.Downgrade, else the unit is refused), Pids as
	// PidsLimit=, the others as podman flags in PodmanArgs=.
	Resources runtime.Resources

	// inputs is the digest of the companion's inputs (Manager.SetInputs), a label of its unit.
	inputs string
}

// Build is a local image build.
type Build struct {
	// ContextDir is the absolute build context directory.
	ContextDir string
	// Containerfile is relative to ContextDir ("" = "Containerfile").
	Containerfile string
}

func (s Spec) container() runtime.ContainerSpec {
	return runtime.ContainerSpec{Name: s.Name, Image: s.Image, Command: s.Command, Env: s.Env, Network: s.Network,
		Ports: s.Ports, Mounts: s.Mounts, CapAdd: s.CapAdd, CapDrop: s.CapDrop, User: s.User, StopTimeout: s.StopTimeout,
		Secrets: s.Secrets, Resources: s.Resources}
}

// validate adds s's problems to p, fields prefixed with prefix.
func (s Spec) validate(p *runtime.Problems, prefix string) {
	s.container().ValidateInto(p, prefix)
	s.Health.ValidateInto(p, prefix)
	if k := s.Health.Kind(); k == health.KindHTTP || k == health.KindTCP {
		p.Add(prefix+"Health", "%s checks are not supported for companions: use an exec check", k)
	}
	if s.Build != nil {
		runtime.ValidateHostPath(p, prefix+"Build.ContextDir", s.Build.ContextDir)
	}
	runtime.ValidateDuration(p, prefix+"RestartSec", s.RestartSec, 0, time.Hour)
}

// Unit returns the Quadlet unit of companion s of app.
func (s Spec) Unit(app string) quadlet.Unit {
	c := quadlet.Container{
		Image:           s.Image,
		ContainerName:   s.Name,
		Exec:            s.Command,
		Environment:     s.Env,
		AddCapability:   s.CapAdd,
		DropCapability:  s.CapDrop,
		User:            s.User,
		NoNewPrivileges: true,
		Label:           map[string]string{LabelCompanionOf: app},
		StopTimeout:     s.StopTimeout,
		PodmanArgs:      s.Resources.PodmanFlags("Memory", "Pids"),
	}
	if s.Resources.Memory != 0 {
		c.Memory = strconv.FormatInt(s.Resources.Memory, 10)
	}
	if s.Resources.Pids != 0 {
		c.PidsLimit = &s.Resources.Pids
	}
	s.addInputs(&c)
	switch s.Network.Mode {
	case runtime.NetworkHost:
		c.Network = []string{"host"}
	case runtime.NetworkNamed:
		c.Network = []string{s.Network.Name}
	}
	for _, pt := range s.Ports {
		c.PublishPort = append(c.PublishPort, publishPort(pt))
	}
	for _, m := range s.Mounts {
		v := m.Source + ":" + m.Target
		if opts := mountOptions(m); opts != "" {
			v += ":" + opts
		}
		c.Volume = append(c.Volume, v)
	}
	if s.Health.Kind() == health.KindExec {
		h := s.Health.WithDefaults()
		c.HealthCmd, c.HealthInterval, c.HealthTimeout = h.Exec, h.Interval, h.Timeout
		c.HealthStartPeriod, c.HealthRetries, c.Notify = h.StartPeriod, h.FailureThreshold, "healthy"
	}
	restartSec := s.RestartSec
	if restartSec == 0 {
		restartSec = DefaultRestartSec
	}
	return quadlet.Unit{
		Description: fmt.Sprintf("skerry companion %s of %s", s.Name, app),
		Container:   c,
		Service: quadlet.Service{Restart: "always", RestartSec: restartSec, TimeoutStartSec: DefaultTimeoutStartSec,
			TimeoutStopSec: cmp.Or(s.StopTimeout, podmanStopTimeout) + StopGrace},
		WantedBy: []string{"default.target"},
	}
}

// mountOptions returns m's Volume= options ("ro", "Z", "ro,z"), "" when none.
func mountOptions(m runtime.Mount) string {
	var opts []string
	if m.ReadOnly {
		opts = append(opts, "ro")
	}
	if m.Relabel != "" {
		opts = append(opts, m.Relabel)
	}
	return strings.Join(opts, ",")
}

// publishPort renders a runtime.Port in podman's "[ip:]host:container[/proto]" syntax, with
// "a-b" ranges.
func publishPort(pt runtime.Port) string {
	span := func(first uint16) string {
		if pt.Count <= 1 {
			return strconv.Itoa(int(first))
		}
		return fmt.Sprintf("%d-%d", first, int(first)+int(pt.Count)-1)
	}
	v := span(pt.HostPort) + ":" + span(pt.ContainerPort)
	if pt.HostIP != "" {
		ip := pt.HostIP
		if strings.Contains(ip, ":") {
			ip = "[" + ip + "]"
		}
		v = ip + ":" + v
	}
	if pt.Protocol != "" && pt.Protocol != "tcp" {
		v += "/" + pt.Protocol
	}
	return v
}

// StopGrace is what a companion's unit allows a stop beyond the companion's StopTimeout (or
// podman's 10 s default) before systemd kills what is left: its TimeoutStopSec=. A stop that
// reaches the container through podman (ExecStop, podman rm) ends within StopTimeout; one that
// does not (the unit stopped while it starts: systemd skips ExecStop and SIGTERMs conmon, which
// hands the signal to the container's PID 1, and a PID 1 may ignore it) would otherwise last
// systemd's default 90 s.
const StopGrace = 15 * time.Second

// podmanStopTimeout is podman's default stop timeout.
const podmanStopTimeout = 10 * time.Second
