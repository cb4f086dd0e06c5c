//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"context"
	"fmt"
	"sync"

	"github.com/containers/podman/v5/pkg/bindings/system"
	spec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skerry-dev/skerry/runtime"
)

var _ runtime.HostChecker = (*Runtime)(nil)

// hostFacts are what CheckHost needs of the engine's host, asked once: whether the engine runs
// rootless, and the host's net.ipv4.ip_unprivileged_port_start. The port start is read from
// this process's /proc, which is the engine's host (and network namespace) for the local
// socket skerry uses; portStart is the seam tests replace.
type hostFacts struct {
	mu        sync.Mutex
	known     bool
	rootless  bool
	start     int
	portStart func() (int, error)
}

// facts returns the host facts, asking the engine and the kernel on the first successful call.
func (r *Runtime) facts(ctx context.Context) (rootless bool, start int, err error) {
	h := &r.host
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.known {
		return h.rootless, h.start, nil
	}
	info, err := system.Info(r.with(ctx), nil)
	if err != nil {
		return false, 0, fmt.Errorf("podman: info: %w", mapErr(err, runtime.ErrUnavailable))
	}
	h.rootless = info.Host != nil && info.Host.Security.Rootless
	if h.rootless {
		read := h.portStart
		if read == nil {
			read = func() (int, error) { return runtime.ReadUnprivilegedPortStart(runtime.UnprivilegedPortStartFile) }
		}
		if h.start, err = read(); err != nil {
			return false, 0, fmt.Errorf("podman: %w: %v", runtime.ErrUnavailable, err)
		}
	}
	h.known = true
	return h.rootless, h.start, nil
}

// CheckHost implements runtime.HostChecker: a rootless engine refuses published host ports
// below the host's net.ipv4.ip_unprivileged_port_start.
func (r *Runtime) CheckHost(ctx context.Context, spec runtime.ContainerSpec) error {
	if len(spec.Ports) == 0 || spec.Network.Mode == runtime.NetworkHost {
		return nil
	}
	rootless, start, err := r.facts(ctx)
	if err != nil || !rootless {
		return err
	}
	return runtime.CheckPortStart(spec, start)
}

// resourceLimits returns rs as the OCI limits podman applies (nil when rs sets none).
func resourceLimits(rs runtime.Resources) *spec.LinuxResources {
	if rs.IsZero() {
		return nil
	}
	l := &spec.LinuxResources{}
	if rs.Memory != 0 || rs.MemorySwap != 0 {
		l.Memory = &spec.LinuxMemory{}
		if rs.Memory != 0 {
			l.Memory.Limit = &rs.Memory
		}
		if rs.MemorySwap != 0 {
			l.Memory.Swap = &rs.MemorySwap
		}
	}
	if rs.MilliCPUs != 0 || rs.CPUWeight != 0 {
		l.CPU = &spec.LinuxCPU{}
		if rs.MilliCPUs != 0 {
			quota, period := rs.CPUQuota(), uint64(runtime.CPUPeriod)
			l.CPU.Quota, l.CPU.Period = &quota, &period
		}
		if rs.CPUWeight != 0 {
			shares := rs.CPUShares()
			l.CPU.Shares = &shares
		}
	}
	if rs.Pids != 0 {
		l.Pids = &spec.LinuxPids{Limit: rs.Pids}
	}
	return l
}
