package runtime_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/skerry-dev/skerry/runtime"
)

// problemFields returns the fields a spec's validation names (nil when valid).
func problemFields(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *runtime.ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, runtime.ErrInvalidSpec) {
		t.Fatalf("error %v is not a *ValidationError wrapping ErrInvalidSpec", err)
	}
	var fs []string
	for _, p := range ve.Problems {
		fs = append(fs, p.Field)
	}
	return fs
}

func TestResourcesValidation(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name string
		r    runtime.Resources
		want []string // fields named, nil: valid
	}{
		{"none", runtime.Resources{}, nil},
		{"all set", runtime.Resources{Memory: 512 * mib, MemorySwap: 1024 * mib, MilliCPUs: 1500, CPUWeight: 100, Pids: 256}, nil},
		{"memory at the floor", runtime.Resources{Memory: runtime.MinMemory}, nil},
		{"memory below the floor", runtime.Resources{Memory: runtime.MinMemory - 1}, []string{"Resources.Memory"}},
		{"negative memory", runtime.Resources{Memory: -1}, []string{"Resources.Memory"}},
		{"swap equal to memory (no swap)", runtime.Resources{Memory: 64 * mib, MemorySwap: 64 * mib}, nil},
		{"unlimited swap", runtime.Resources{Memory: 64 * mib, MemorySwap: -1}, nil},
		{"swap below memory", runtime.Resources{Memory: 64 * mib, MemorySwap: 32 * mib}, []string{"Resources.MemorySwap"}},
		{"swap without memory", runtime.Resources{MemorySwap: 64 * mib}, []string{"Resources.MemorySwap"}},
		{"unlimited swap without memory", runtime.Resources{MemorySwap: -1}, []string{"Resources.MemorySwap"}},
		{"swap below -1", runtime.Resources{Memory: 64 * mib, MemorySwap: -2}, []string{"Resources.MemorySwap"}},
		{"cpus at the floor", runtime.Resources{MilliCPUs: 10}, nil},
		{"cpus below the floor", runtime.Resources{MilliCPUs: 9}, []string{"Resources.MilliCPUs"}},
		{"negative cpus", runtime.Resources{MilliCPUs: -1000}, []string{"Resources.MilliCPUs"}},
		{"too many cpus", runtime.Resources{MilliCPUs: 1000001}, []string{"Resources.MilliCPUs"}},
		{"weight at the top", runtime.Resources{CPUWeight: 10000}, nil},
		{"weight above the top", runtime.Resources{CPUWeight: 10001}, []string{"Resources.CPUWeight"}},
		{"unlimited pids", runtime.Resources{Pids: -1}, nil},
		{"pids below -1", runtime.Resources{Pids: -2}, []string{"Resources.Pids"}},
		{"pids above pid_max", runtime.Resources{Pids: runtime.MaxPids + 1}, []string{"Resources.Pids"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := validSpec()
			s.Resources = tc.r
			if diff := cmp.Diff(tc.want, problemFields(t, s.Validate())); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			var p runtime.Problems
			s.ValidateInto(&p, "Container.")
			for _, f := range p {
				if !strings.HasPrefix(f.Field, "Container.Resources.") {
					t.Errorf("prefixed field %q", f.Field)
				}
			}
		})
	}
}

// validResources is the rule the validation implements, written independently.
func validResources(r runtime.Resources) bool {
	memOK := r.Memory == 0 || r.Memory >= runtime.MinMemory
	swapOK := r.MemorySwap == 0 || r.Memory != 0 && (r.MemorySwap == -1 || r.MemorySwap >= r.Memory)
	cpuOK := r.MilliCPUs == 0 || r.MilliCPUs >= 10 && r.MilliCPUs <= 1000000
	return memOK && swapOK && cpuOK && r.CPUWeight <= 10000 && r.Pids >= -1 && r.Pids <= runtime.MaxPids
}

func TestResourcesValidationProperty(t *testing.T) {
	edge := func(vs ...int64) *rapid.Generator[int64] {
		return rapid.OneOf(rapid.SampledFrom(vs), rapid.Int64Range(-3, 2*runtime.MaxPids), rapid.Int64())
	}
	rapid.Check(t, func(t *rapid.T) {
		r := runtime.Resources{
			Memory:     edge(0, -1, runtime.MinMemory-1, runtime.MinMemory, 1<<30).Draw(t, "memory"),
			MemorySwap: edge(0, -1, -2, runtime.MinMemory, 1<<30, 2<<30).Draw(t, "swap"),
			MilliCPUs:  edge(0, 9, 10, 1000000, 1000001, -5).Draw(t, "cpus"),
			CPUWeight:  rapid.OneOf(rapid.SampledFrom([]uint64{0, 1, 100, 10000, 10001}), rapid.Uint64()).Draw(t, "weight"),
			Pids:       edge(0, -1, -2, runtime.MaxPids, runtime.MaxPids+1).Draw(t, "pids"),
		}
		s := validSpec()
		s.Resources = r
		err := s.Validate()
		if (err == nil) != validResources(r) {
			t.Fatalf("Validate(%+v) = %v, the rule says valid=%v", r, err, validResources(r))
		}
		if err != nil && !errors.Is(err, runtime.ErrInvalidSpec) {
			t.Fatalf("untyped error %v", err)
		}
	})
}

// crunWeight is crun's and runc's conversion of cgroup v1 CPU shares to cgroup v2 cpu.weight.
func crunWeight(shares uint64) uint64 { return 1 + (shares-2)*9999/262142 }

func TestCPUSharesRoundTripToWeight(t *testing.T) {
	for w := uint64(1); w <= 10000; w++ {
		r := runtime.Resources{CPUWeight: w}
		sh := r.CPUShares()
		if sh < 2 || sh > 262144 || crunWeight(sh) != w {
			t.Fatalf("weight %d -> shares %d -> weight %d", w, sh, crunWeight(sh))
		}
	}
	if (runtime.Resources{}).CPUShares() != 0 {
		t.Error("no weight must mean no shares")
	}
}

func TestResourcesPodmanFlags(t *testing.T) {
	r := runtime.Resources{Memory: 64 << 20, MemorySwap: -1, MilliCPUs: 250, CPUWeight: 100, Pids: 128}
	want := []string{"--memory=67108864", "--memory-swap=-1", "--cpus=0.25", "--cpu-shares=2598", "--pids-limit=128"}
	if diff := cmp.Diff(want, r.PodmanFlags()); diff != "" {
		t.Errorf("flags (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[1:4], r.PodmanFlags("Memory", "Pids")); diff != "" {
		t.Errorf("flags skipping Memory and Pids (-want +got):\n%s", diff)
	}
	if got := (runtime.Resources{}).PodmanFlags(); got != nil {
		t.Errorf("no limits gave flags %q", got)
	}
	if q := (runtime.Resources{MilliCPUs: 1500}).CPUQuota(); q != 150000 {
		t.Errorf("quota of 1.5 CPUs = %d, want 150000 per %d", q, runtime.CPUPeriod)
	}
}

func TestResourcesInSpecHash(t *testing.T) {
	base := validSpec()
	if runtime.SpecHash(base) != runtime.SpecHash(func() runtime.ContainerSpec { s := base; s.Resources = runtime.Resources{}; return s }()) {
		t.Fatal("zero resources changed the hash")
	}
	seen := map[string]string{runtime.SpecHash(base): "none"}
	for name, r := range map[string]runtime.Resources{
		"memory": {Memory: 64 << 20}, "swap": {Memory: 64 << 20, MemorySwap: -1}, "cpus": {MilliCPUs: 500},
		"weight": {CPUWeight: 50}, "pids": {Pids: 64},
	} {
		s := base
		s.Resources = r
		h := runtime.SpecHash(s)
		if other, dup := seen[h]; dup {
			t.Errorf("%s hashes like %s", name, other)
		}
		seen[h] = name
	}
	m := base
	m.Mounts = slices.Clone(base.Mounts)
	m.Mounts[0].Relabel = runtime.RelabelPrivate
	if runtime.SpecHash(m) == runtime.SpecHash(base) {
		t.Error("a relabel option did not change the hash")
	}
}

// The hash of a spec without the new fields must not move: a node upgraded to this version
// would otherwise recreate every container. The value was computed before the fields existed.
func TestSpecHashStableWithoutNewFields(t *testing.T) {
	if got, want := runtime.SpecHash(validSpec()), "7303d15b9c7349fb"; got != want {
		t.Errorf("SpecHash = %s, want %s", got, want)
	}
}

func TestRelabelValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    runtime.Mount
		want []string
	}{
		{"volume private", runtime.Mount{Source: "data", Target: "/data", Relabel: "Z"}, nil},
		{"bind shared", runtime.Mount{Type: runtime.MountBind, Source: "/srv/app", Target: "/app", Relabel: "z"}, nil},
		{"unknown option", runtime.Mount{Source: "data", Target: "/data", Relabel: "private"}, []string{"Mounts[0].Relabel"}},
		{"system directory", runtime.Mount{Type: runtime.MountBind, Source: "/usr/", Target: "/u", Relabel: "Z"}, []string{"Mounts[0].Relabel"}},
		{"home shared", runtime.Mount{Type: runtime.MountBind, Source: "/home", Target: "/h", Relabel: "z"}, []string{"Mounts[0].Relabel"}},
		{"under home", runtime.Mount{Type: runtime.MountBind, Source: "/home/app/data", Target: "/h", Relabel: "z"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := validSpec()
			s.Mounts = []runtime.Mount{tc.m}
			if diff := cmp.Diff(tc.want, problemFields(t, s.Validate())); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckPortStart(t *testing.T) {
	s := validSpec()
	s.Ports = []runtime.Port{{HostPort: 80, ContainerPort: 80}, {HostPort: 1024, ContainerPort: 1024}, {HostPort: 443, ContainerPort: 443, Count: 2}}
	err := runtime.CheckPortStart(s, 1024)
	if diff := cmp.Diff([]string{"Ports[0].HostPort", "Ports[2].HostPort"}, problemFields(t, err)); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if !strings.Contains(err.Error(), "ip_unprivileged_port_start (1024)") {
		t.Errorf("error does not name the sysctl: %v", err)
	}
	if err := runtime.CheckPortStart(s, 0); err != nil {
		t.Errorf("start 0 refused %v", err)
	}
	if err := runtime.CheckPortStart(s, 80); err != nil {
		t.Errorf("start 80 refused %v", err)
	}
	s.Network, s.Ports = runtime.Network{Mode: runtime.NetworkHost}, []runtime.Port{{HostPort: 80, ContainerPort: 80}}
	if err := runtime.CheckPortStart(s, 1024); err != nil {
		t.Errorf("host networking publishes nothing, got %v", err)
	}
}

func TestCheckPortStartProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		start := rapid.IntRange(0, 65536).Draw(t, "start")
		var ports []runtime.Port
		low := false
		for i := range rapid.IntRange(0, 4).Draw(t, "n") {
			hp := uint16(rapid.IntRange(1, 65535).Draw(t, "hostPort"))
			ports = append(ports, runtime.Port{HostPort: hp, ContainerPort: uint16(i + 1)})
			low = low || int(hp) < start
		}
		s := validSpec()
		s.Ports = ports
		err := runtime.CheckPortStart(s, start)
		if (err != nil) != low || err != nil && !errors.Is(err, runtime.ErrInvalidSpec) {
			t.Fatalf("start %d, ports %v: %v", start, ports, err)
		}
	})
}

func TestReadUnprivilegedPortStart(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]int{"1024\n": 1024, "0": 0, "80\n": 80} {
		f := filepath.Join(dir, "v")
		if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := runtime.ReadUnprivilegedPortStart(f); err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", content, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1"} {
		f := filepath.Join(dir, "bad")
		if err := os.WriteFile(f, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := runtime.ReadUnprivilegedPortStart(f); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := runtime.ReadUnprivilegedPortStart(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file was accepted")
	}
}

func TestCheckControllers(t *testing.T) {
	all := runtime.Resources{Memory: 64 << 20, MemorySwap: -1, MilliCPUs: 500, CPUWeight: 10, Pids: 32}
	for _, tc := range []struct {
		name        string
		r           runtime.Resources
		controllers []string
		want        []string
	}{
		{"no limits, no controllers", runtime.Resources{}, nil, nil},
		{"all delegated", all, []string{"cpuset", "cpu", "io", "memory", "pids"}, nil},
		{"none delegated", all, nil, []string{"Resources.Memory", "Resources.MemorySwap", "Resources.MilliCPUs", "Resources.CPUWeight", "Resources.Pids"}},
		{"no pids", runtime.Resources{Memory: 64 << 20, Pids: 8}, []string{"memory", "cpu"}, []string{"Resources.Pids"}},
		{"no cpu", runtime.Resources{CPUWeight: 5}, []string{"memory", "pids"}, []string{"Resources.CPUWeight"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := validSpec()
			s.Resources = tc.r
			if diff := cmp.Diff(tc.want, problemFields(t, runtime.CheckControllers(s, tc.controllers))); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckControllersProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var r runtime.Resources
		if rapid.Bool().Draw(t, "memory") {
			r.Memory = runtime.MinMemory
		}
		if rapid.Bool().Draw(t, "cpu") {
			r.MilliCPUs = 100
		}
		if rapid.Bool().Draw(t, "pids") {
			r.Pids = 10
		}
		have := rapid.SliceOfDistinct(rapid.SampledFrom([]string{"memory", "cpu", "pids", "io"}), func(s string) string { return s }).Draw(t, "have")
		s := validSpec()
		s.Resources = r
		missing := r.Memory != 0 && !slices.Contains(have, "memory") || r.MilliCPUs != 0 && !slices.Contains(have, "cpu") ||
			r.Pids != 0 && !slices.Contains(have, "pids")
		if err := runtime.CheckControllers(s, have); (err != nil) != missing {
			t.Fatalf("%+v with %v: %v", r, have, err)
		}
	})
}
