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
