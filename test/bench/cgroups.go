//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sliceDir is the cgroup of the calling user's session: what "session CPU" sums.
func sliceDir() string {
	return fmt.Sprintf("/sys/fs/cgroup/user.slice/user-%d.slice", os.Getuid())
}

// cgroupUsage is the CPU time used so far by every cgroup under root, by path.
func cgroupUsage(root string) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return err
			}
			return nil // a scope that went away while walking
		}
		if !d.IsDir() {
			return nil
		}
		if b, err := os.ReadFile(filepath.Join(path, "cpu.stat")); err == nil {
			out[path] = usageUsec(b)
		}
		return nil
	})
	return out, err
}

func usageUsec(cpuStat []byte) time.Duration {
	for _, l := range strings.Split(string(cpuStat), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "usage_usec" {
			us, _ := strconv.ParseInt(f[1], 10, 64)
			return time.Duration(us) * time.Microsecond
		}
	}
	return 0
}

// cgroupKind names what runs in the cgroup at path, for the breakdown of the session's CPU.
func cgroupKind(path, daemonCgroup string) string {
	switch {
	case daemonCgroup != "" && strings.HasPrefix(path, daemonCgroup):
		return "daemon"
	case strings.Contains(path, "/podman.service"):
		return "podman API service"
	case strings.Contains(path, "/libpod-conmon-"):
		return "conmon"
	case strings.Contains(path, "/libpod-"):
		return "containers (apps, check processes)"
	case strings.HasSuffix(path, "/init.scope") && strings.Contains(path, "/user@"):
		return "systemd user manager"
	case strings.HasSuffix(path, "/app.slice"):
		// Its own usage is that of its children that ended in the window: the transient
		// units in which podman's timers run `podman healthcheck run`.
		return "transient units ended in the window (podman's timer checks)"
	case strings.HasSuffix(path, "/dbus.service"):
		return "D-Bus"
	}
	return "other"
}

// breakdown splits the session's CPU between t0 and t1 by cgroupKind, from each cgroup's own
// usage (its usage minus its children's). Cgroups born during the window count from zero; those
// gone by its end are lost (their CPU is still in the session's total).
func breakdown(t0, t1 map[string]time.Duration, daemonCgroup string) map[string]time.Duration {
	delta := map[string]time.Duration{}
	for p, u1 := range t1 {
		delta[p] = u1 - t0[p]
	}
	out := map[string]time.Duration{}
	for p, d := range delta {
		own := d
		for c, dc := range delta {
			if filepath.Dir(c) == p {
				own -= dc
			}
		}
		if own > 0 {
			k := cgroupKind(p, daemonCgroup)
			if k == "other" && *debugCgroups {
				k = "other " + strings.TrimPrefix(p, sliceDir())
			}
			out[k] += own
		}
	}
	return out
}

// breakdownText is the breakdown as "kind X %, ..." in % of one core over window, biggest first.
func breakdownText(b map[string]time.Duration, window time.Duration) string {
	kinds := make([]string, 0, len(b))
	for k := range b {
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(x, y string) int { return int(b[y] - b[x]) })
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %.2f %%", k, pct(b[k], window))
	}
	return strings.Join(parts, ", ")
}

// procCgroup is the cgroup v2 directory of pid under /sys/fs/cgroup, "" when unknown.
func procCgroup(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if rest, ok := strings.CutPrefix(l, "0::"); ok {
			return filepath.Join("/sys/fs/cgroup", rest)
		}
	}
	return ""
}
