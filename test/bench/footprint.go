//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/skerry-dev/skerry/runtime"
)

// footprint measures an idle node of apps+2 apps with a check every 30 s: the example daemon
// with its default options, the same with podman's timers running the checks, and Quadlet +
// systemd running as many units.
func (e *env) footprint(ctx context.Context, apps int, window time.Duration) error {
	fmt.Fprintf(e.out, "## 4. Footprint of an idle node of %d apps, a check every 30 s\n\n", apps+2)
	fmt.Fprintf(e.out, "Measured over %v of idle running, after the bring-up settled (5 s). Session CPU is all the CPU of the user's session over the window (`/sys/fs/cgroup/user.slice/user-%d.slice/cpu.stat`: the daemon, the podman API service, conmon, the checks, systemd's user manager and the apps), in %% of one core. The daemon runs in a transient scope of the user's systemd manager (`systemd-run --user --scope`), where a node daemon runs as a user unit (and where the podman adapter may run checks through crun directly: runtime/podman/directexec.go). The split by cgroup follows the table. skerry: `examples/noded -apps %d -check-interval 30s` (its 2 demo apps, a companion under systemd, %d filler apps; every check, the companion's included, every 30 s), periodic passes every 30 s, events on. Quadlet + systemd: %d units as in section 2, podman's timers running the checks; no daemon, and no podman API service (nothing calls it).\n\n",
		window, os.Getuid(), apps, apps, apps+2)
	fmt.Fprintf(e.out, "| node | daemon RSS at start / end of the window | daemon CPU | session CPU | podman API service RSS |\n|---|---|---|---|---|\n")
	var splits []string
	rows := []bool{true, false} // checks scheduled by the daemon, then by podman's timers
	if !*footPeers {
		rows = rows[:1]
	}
	for _, scheduled := range rows {
		row, split, err := e.idle(ctx, apps, window, scheduled)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.out, row)
		splits = append(splits, split)
	}
	if !*footPeers {
		fmt.Fprintf(e.out, "\nSession CPU by cgroup (%% of one core): %s\n\n", strings.Join(splits, "; "))
		return nil
	}
	names := appNames("foot", apps+2)
	_, err := e.quadletUp(ctx, names)
	if err == nil {
		time.Sleep(5 * time.Second)
		var s0, s1 map[string]time.Duration
		if s0, err = cgroupUsage(sliceDir()); err == nil {
			time.Sleep(window)
			if s1, err = cgroupUsage(sliceDir()); err == nil {
				fmt.Fprintf(e.out, "| Quadlet + systemd, podman's timers | - | - | %.2f %% | %s |\n", pct(s1[sliceDir()]-s0[sliceDir()], window), e.podmanRSS())
				splits = append(splits, "Quadlet + systemd: "+breakdownText(breakdown(s0, s1, ""), window))
			}
		}
	}
	e.quadletDown(ctx, names)
	fmt.Fprintf(e.out, "\nSession CPU by cgroup (%% of one core; each cgroup's own usage, cgroups gone before the window's end not counted): %s\n\n", strings.Join(splits, "; "))
	return err
}

func pct(cpu, window time.Duration) float64 { return cpu.Seconds() / window.Seconds() * 100 }

// idle runs examples/noded with apps filler apps, waits for its first pass and for the
// bring-up to settle, and measures it and the user's session over window. It returns a table
// row and the session's CPU by cgroup. The daemon runs in a scope of the user's manager
// (systemd-run execs it: the same pid); were it outside the session's cgroup, its CPU would be
// added to the session's.
func (e *env) idle(ctx context.Context, apps int, window time.Duration, scheduled bool) (row, split string, err error) {
	cmd := exec.CommandContext(ctx, "systemd-run", "--user", "--scope", "--quiet", "--collect", *noded, "-apps", strconv.Itoa(apps), "-interval", "30s", "-check-interval", "30s", "-rotate-every", "0",
		"-schedule-checks="+strconv.FormatBool(scheduled))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", "", err
	}
	if *debugCgroups { // the daemon's GC trace, for the RSS
		if f, err := os.Create("/share/perf-noded-stderr.log"); err == nil {
			defer f.Close()
			cmd.Stderr = f
			cmd.Env = append(os.Environ(), "GODEBUG=gctrace=1")
			cmd.Args = append(cmd.Args, "-memprofile", "/share/perf-noded-heap.prof", "-cpuprofile", "/share/perf-noded-cpu.prof")
		}
	}
	if err := cmd.Start(); err != nil {
		return "", "", err
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		e.removeManaged(ctx) // at once; then noded removes what is left (its companion)
		exec.Command(*noded, "-apps", strconv.Itoa(apps), "-uninstall").Run()
	}()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "pass 1 ") {
			if !strings.Contains(sc.Text(), "converged=true") {
				return "", "", fmt.Errorf("noded: %s", sc.Text())
			}
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	time.Sleep(5 * time.Second) // settle after the bring-up
	daemonCgroup := procCgroup(cmd.Process.Pid)
	if !strings.HasPrefix(daemonCgroup, sliceDir()+"/") {
		daemonCgroup = "" // not in the session: added below
	}
	rss0, cpu0, err := procStat(cmd.Process.Pid)
	if err != nil {
		return "", "", err
	}
	session0, err := cgroupUsage(sliceDir())
	if err != nil {
		return "", "", err
	}
	time.Sleep(window)
	rss1, cpu1, err := procStat(cmd.Process.Pid)
	if err != nil {
		return "", "", err
	}
	session1, err := cgroupUsage(sliceDir())
	if err != nil {
		return "", "", err
	}
	const ticksPerSec = 100
	daemonCPU := time.Duration(cpu1-cpu0) * time.Second / ticksPerSec
	session := session1[sliceDir()] - session0[sliceDir()]
	byCgroup := breakdown(session0, session1, daemonCgroup)
	if daemonCgroup == "" {
		session += daemonCPU
		byCgroup["daemon"] += daemonCPU
	}
	who := "skerry, checks run by the daemon (default)"
	if !scheduled {
		who = "skerry, checks run by podman's timers (`-schedule-checks=false`)"
	}
	if *debugCgroups {
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
		for _, l := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(l, "Rss") || strings.HasPrefix(l, "Threads") {
				who += ", " + strings.Join(strings.Fields(l), " ")
			}
		}
	}
	row = fmt.Sprintf("| %s | %.1f MB / %.1f MB | %.2f %% | %.2f %% | %s |", who, float64(rss0)/1024, float64(rss1)/1024, pct(daemonCPU, window), pct(session, window), e.podmanRSS())
	return row, who + ": " + breakdownText(byCgroup, window), nil
}

// removeManaged removes every managed container at once.
func (e *env) removeManaged(ctx context.Context) {
	obs, err := e.rt.Runtime.List(ctx, runtime.ManagedOnly())
	if err != nil {
		return
	}
	var wg sync.WaitGroup
	for _, o := range obs {
		wg.Go(func() { e.rt.Runtime.Remove(ctx, o.Name, runtime.RemoveOptions{Force: true, Volumes: true}) })
	}
	wg.Wait()
}

// podmanRSS is the RSS of the running podman API service, "not running" when there is none.
func (e *env) podmanRSS() string {
	out, err := exec.Command("pgrep", "-u", strconv.Itoa(os.Getuid()), "-f", "podman.* system service").Output()
	if err != nil {
		return "not running"
	}
	var total int64
	for _, p := range strings.Fields(string(out)) {
		pid, _ := strconv.Atoi(p)
		if r, _, err := procStat(pid); err == nil {
			total += r
		}
	}
	return fmt.Sprintf("%.1f MB", float64(total)/1024)
}

func procStat(pid int) (rssKB int64, cpuTicks int64, err error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			rssKB, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return rssKB, ut + st, nil
}
