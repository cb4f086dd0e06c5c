package runtime

import (
	"fmt"
	"strconv"
)

// Resources are a container's cgroup limits. The zero value sets none: the engine's defaults
// apply. Limits need the cgroup controllers (memory, cpu, pids) delegated to the engine's
// user; where they are not, podman drops the limit with a warning or fails the start.
type Resources struct {
	// Memory is the memory limit in bytes; 0 sets none. At least MinMemory (podman's floor).
	Memory int64 `json:",omitempty"`
	// MemorySwap is the limit of memory plus swap in bytes: 0 keeps the engine's default (podman:
	// twice Memory), -1 allows unlimited swap, else at least Memory (equal: no swap). Needs Memory.
	MemorySwap int64 `json:",omitempty"`
	// MilliCPUs is the CPU quota in thousandths of a CPU (1500: one and a half CPUs, podman
	// --cpus=1.5); 0 sets none. 10..1000000.
	MilliCPUs int64 `json:",omitempty"`
	// CPUWeight is the relative CPU weight under contention, 1..10000 as cgroup v2's cpu.weight
	// and systemd's CPUWeight= (100 is the default share); 0 keeps the default. Podman takes it
	// as CPU shares (CPUShares), which the OCI runtime maps back to this weight.
	CPUWeight uint64 `json:",omitempty"`
	// Pids is the most processes (and threads) the container may hold; 0 keeps the engine's
	// default, -1 sets no limit.
	Pids int64 `json:",omitempty"`
}

// Resource bounds.
const (
	// MinMemory is the smallest memory limit podman accepts (6 MiB).
	MinMemory = 6 << 20
	// MaxPids is the kernel's largest pid_max (PID_MAX_LIMIT).
	MaxPids = 1 << 22
)

// IsZero reports whether r sets no limit.
func (r Resources) IsZero() bool { return r == Resources{} }

// CPUShares returns the podman CPU shares (2..262144, --cpu-shares) that crun and runc map to
// CPUWeight (they compute weight = 1 + (shares-2)*9999/262142, rounding down, so the shares
// are rounded up here); 0 when CPUWeight is 0.
func (r Resources) CPUShares() uint64 {
	if r.CPUWeight == 0 {
		return 0
	}
	return 2 + ((r.CPUWeight-1)*262142+9998)/9999
}

// CPUs returns MilliCPUs in podman's --cpus form ("1.5", "0.25"); "" when MilliCPUs is 0.
func (r Resources) CPUs() string {
	if r.MilliCPUs == 0 {
		return ""
	}
	return strconv.FormatFloat(float64(r.MilliCPUs)/1000, 'f', -1, 64)
}

// CPUQuota returns the CFS quota in microseconds per CPUPeriod that MilliCPUs means.
func (r Resources) CPUQuota() int64 { return r.MilliCPUs * CPUPeriod / 1000 }

// CPUPeriod is the CFS period, in microseconds, that CPUQuota is measured in (podman's default).
const CPUPeriod = 100000

// validate adds r's problems to p, fields under pre+"Resources.".
func (r Resources) validate(p *Problems, pre string) {
	f := pre + "Resources."
	if r.Memory != 0 && r.Memory < MinMemory {
		p.Add(f+"Memory", "%d bytes is below podman's minimum of %d (6 MiB)", r.Memory, MinMemory)
	}
	switch {
	case r.MemorySwap == 0 || r.MemorySwap == -1 && r.Memory != 0:
	case r.Memory == 0:
		p.Add(f+"MemorySwap", "is set without Memory")
	case r.MemorySwap < r.Memory:
		p.Add(f+"MemorySwap", "%d bytes is below Memory (%d): it is the limit of memory plus swap", r.MemorySwap, r.Memory)
	}
	if r.MilliCPUs != 0 && (r.MilliCPUs < 10 || r.MilliCPUs > 1000000) {
		p.Add(f+"MilliCPUs", "%d is outside 10..1000000 (0.01 to 1000 CPUs)", r.MilliCPUs)
	}
	if r.CPUWeight > 10000 {
		p.Add(f+"CPUWeight", "%d is outside 1..10000", r.CPUWeight)
	}
	if r.Pids < -1 || r.Pids > MaxPids {
		p.Add(f+"Pids", "%d is outside -1..%d", r.Pids, MaxPids)
	}
}

// PodmanFlags returns r as podman run flags ("--memory=536870912", ...), in a fixed order. Callers
// that render a key of their own for a limit (Quadlet's Memory= and PidsLimit=) leave it out with
// skip ("Memory", "Pids").
func (r Resources) PodmanFlags(skip ...string) []string {
	skipped := func(k string) bool {
		for _, s := range skip {
			if s == k {
				return true
			}
		}
		return false
	}
	var out []string
	add := func(key, flag string, set bool, v string) {
		if set && !skipped(key) {
			out = append(out, fmt.Sprintf("--%s=%s", flag, v))
		}
	}
	add("Memory", "memory", r.Memory != 0, strconv.FormatInt(r.Memory, 10))
	add("MemorySwap", "memory-swap", r.MemorySwap != 0, strconv.FormatInt(r.MemorySwap, 10))
	add("MilliCPUs", "cpus", r.MilliCPUs != 0, r.CPUs())
	add("CPUWeight", "cpu-shares", r.CPUWeight != 0, strconv.FormatUint(r.CPUShares(), 10))
	add("Pids", "pids-limit", r.Pids != 0, strconv.FormatInt(r.Pids, 10))
	return out
}
