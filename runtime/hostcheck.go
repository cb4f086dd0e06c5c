package runtime

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// HostChecker is implemented by runtimes that can check a valid spec against the host it would
// run on, without side effects: what Validate cannot know (a rootless engine cannot publish a
// host port below the host's net.ipv4.ip_unprivileged_port_start). The error is a
// *ValidationError (errors.Is ErrInvalidSpec) naming the field, or one wrapping ErrUnavailable
// when the host could not be asked. Callers check before acting, so such a spec is refused
// before any side effect; Create checks too.
type HostChecker interface {
	CheckHost(ctx context.Context, spec ContainerSpec) error
}

// UnprivilegedPortStartFile is where Linux publishes net.ipv4.ip_unprivileged_port_start for the
// reader's network namespace.
const UnprivilegedPortStartFile = "/proc/sys/net/ipv4/ip_unprivileged_port_start"

// ReadUnprivilegedPortStart reads the lowest port an unprivileged process may bind from file
// (UnprivilegedPortStartFile on a real host).
func ReadUnprivilegedPortStart(file string) (int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("read unprivileged port start: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("read unprivileged port start: %s holds %q", file, strings.TrimSpace(string(b)))
	}
	return n, nil
}

// ValidatePortStart adds a problem for each port of ports whose host port is below start, the
// host's net.ipv4.ip_unprivileged_port_start, for a rootless engine (fields prefixed with pre).
// Host networking publishes nothing, so callers pass no ports for it.
func ValidatePortStart(p *Problems, pre string, ports []Port, start int) {
	for i, pt := range ports {
		if pt.HostPort != 0 && int(pt.HostPort) < start {
			p.Add(fmt.Sprintf("%sPorts[%d].HostPort", pre, i),
				"%d is below the host's net.ipv4.ip_unprivileged_port_start (%d): a rootless engine cannot bind it (publish %d or above, or lower the sysctl)",
				pt.HostPort, start, start)
		}
	}
}

// CheckPortStart returns a *ValidationError for spec's published host ports below start (see
// ValidatePortStart), or nil. Host networking publishes none.
func CheckPortStart(spec ContainerSpec, start int) error {
	if spec.Network.Mode == NetworkHost {
		return nil
	}
	var p Problems
	ValidatePortStart(&p, "", spec.Ports, start)
	return p.Err(fmt.Sprintf("container %q on this host", spec.Name))
}

// controllerOf maps each limit of Resources to the cgroup controller that enforces it.
var controllerOf = []struct {
	field, controller string
	set               func(Resources) bool
}{
	{"Memory", "memory", func(r Resources) bool { return r.Memory != 0 }},
	{"MemorySwap", "memory", func(r Resources) bool { return r.MemorySwap != 0 }},
	{"MilliCPUs", "cpu", func(r Resources) bool { return r.MilliCPUs != 0 }},
	{"CPUWeight", "cpu", func(r Resources) bool { return r.CPUWeight != 0 }},
	{"Pids", "pids", func(r Resources) bool { return r.Pids != 0 }},
}

// CheckControllers returns a *ValidationError naming each limit of spec.Resources whose cgroup
// controller is not in controllers (the controllers the engine's cgroup v2 subtree has, as
// podman info lists them), or nil. Without its controller a limit fails the start (crun) or
// is dropped; refusing it first says why. A rootless engine on cgroup v1 enforces no limit:
// pass nil controllers.
func CheckControllers(spec ContainerSpec, controllers []string) error {
	have := map[string]bool{}
	for _, c := range controllers {
		have[c] = true
	}
	var p Problems
	for _, c := range controllerOf {
		if c.set(spec.Resources) && !have[c.controller] {
			p.Add("Resources."+c.field, "the engine cannot enforce it: the %q cgroup controller is not delegated to it (has: %v)",
				c.controller, controllers)
		}
	}
	return p.Err(fmt.Sprintf("container %q on this host", spec.Name))
}
