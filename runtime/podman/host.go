//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/containers/podman/v5/libpod/define"
	spec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skerry-dev/skerry/runtime"
)

var _ runtime.HostChecker = (*Runtime)(nil)

// hostFacts are what CheckHost needs of the engine's host, asked once: whether the engine runs
// rootless, and the host's net.ipv4.ip_unprivileged_port_start. The port start is read from
// this process's /proc, which is the engine's host (and network namespace) for the local
// socket skerry uses; portStart is the seam tests replace.
type hostFacts struct {
	mu          sync.Mutex
	known       bool
	rootless    bool
	start       int
	controllers []string // cgroup controllers podman can use; nil for rootless cgroup v1
	portStart   func() (int, error)
}

// facts returns the host facts, asking the engine and the kernel on the first successful call.
func (r *Runtime) facts(ctx context.Context) (*hostFacts, error) {
	h := &r.host
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.known {
		return h, nil
	}
	var info define.Info
	if err := r.call(ctx, http.MethodGet, "/info", nil, nil, &info); err != nil {
		return nil, fmt.Errorf("podman: info: %w", mapErr(err, runtime.ErrUnavailable))
	}
	if info.Host == nil {
		return nil, fmt.Errorf("podman: info: %w: no host section", runtime.ErrUnavailable)
	}
	h.rootless = info.Host.Security.Rootless
	switch {
	case info.Host.CgroupsVersion == "v2":
		h.controllers = info.Host.CgroupControllers
	case !h.rootless: // rootful cgroup v1: every controller has a hierarchy of its own
		h.controllers = []string{"memory", "cpu", "pids"}
	}
	if h.rootless {
		read := h.portStart
		if read == nil {
			read = func() (int, error) { return runtime.ReadUnprivilegedPortStart(runtime.UnprivilegedPortStartFile) }
		}
		start, err := read()
		if err != nil {
			return nil, fmt.Errorf("podman: %w: %v", runtime.ErrUnavailable, err)
		}
		h.start = start
	}
	h.known = true
	return h, nil
}

// CheckHost implements runtime.HostChecker: a rootless engine refuses published host ports
// below the host's net.ipv4.ip_unprivileged_port_start, and any engine refuses a limit whose
// cgroup controller it lacks (a rootless engine on cgroup v1 enforces none).
func (r *Runtime) CheckHost(ctx context.Context, spec runtime.ContainerSpec) error {
	ports := len(spec.Ports) > 0 && spec.Network.Mode != runtime.NetworkHost
	if !ports && spec.Resources.IsZero() {
		return nil
	}
	h, err := r.facts(ctx)
	if err != nil {
		return err
	}
	var errs []error
	if h.rootless {
		errs = append(errs, runtime.CheckPortStart(spec, h.start))
	}
	errs = append(errs, runtime.CheckControllers(spec, h.controllers))
	return joinValidation(errs...)
}

// joinValidation merges *runtime.ValidationErrors into one (nil when there is none).
func joinValidation(errs ...error) error {
	var out *runtime.ValidationError
	for _, err := range errs {
		var ve *runtime.ValidationError
		if !errors.As(err, &ve) {
			continue
		}
		if out == nil {
			out = &runtime.ValidationError{Subject: ve.Subject}
		}
		out.Problems = append(out.Problems, ve.Problems...)
	}
	if out == nil {
		return nil
	}
	return out
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

var _ runtime.ImageResolver = (*Runtime)(nil)

// ImageID implements runtime.ImageResolver with podman's image inspect.
func (r *Runtime) ImageID(ctx context.Context, ref string) (string, error) {
	var d struct {
		ID string `json:"Id"`
	}
	if err := r.call(ctx, http.MethodGet, "/images/%s/json", nil, nil, &d, ref); err != nil {
		return "", fmt.Errorf("podman: image %s: %w", ref, mapErr(err, runtime.ErrImageNotFound))
	}
	return d.ID, nil
}
