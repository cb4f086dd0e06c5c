//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/quadlet"
	"github.com/skerry-dev/skerry/quadlet/systemd"
	"github.com/skerry-dev/skerry/runtime/podman"
)

// A real daemon is killed with SIGKILL before and after each systemd step of a companion
// install, upgrade and uninstall (a kill after a file write is a kill before the step that
// follows it); a daemon started next runs one pass, and the node must show exactly the desired
// companions active on their current unit files, no stray file or unit, and no companion of the
// uninstalled app. The daemon is this test binary, re-executed with crashEnv naming the scenario,
// the node's prefix and the step to die at.

const crashEnv = "SKERRY_E2E_COMPANION_CRASH"

// crashSpec is a companion of the crash tests; version goes into its environment, so that the
// running container tells which unit file it was started from.
func crashSpec(name, version string) companion.Spec {
	return companion.Spec{
		Name:        name,
		Image:       "localhost/busybox:latest",
		Command:     []string{"httpd", "-f", "-p", "8081", "-h", "/www"},
		Env:         map[string]string{"VERSION": version},
		Health:      health.Check{Exec: []string{"wget", "-q", "-O-", "http://127.0.0.1:8081/"}, Interval: 2 * time.Second, Timeout: time.Second},
		RestartSec:  time.Second,
		StopTimeout: time.Second, // busybox httpd ignores SIGTERM
	}
}

// crashCase is a scenario over the companions of app prefix-lnd.
type crashCase struct {
	name string
	// prior is what a clean daemon installed before; next what the restarted daemon registers.
	prior, next []companion.Spec
	// op is what the killed daemon runs: its own registrations and the operation.
	op func(ctx context.Context, m *companion.Manager, app string) error
}

func crashCases(prefix string) []crashCase {
	v1 := []companion.Spec{crashSpec(prefix+"-ui", "1"), crashSpec(prefix+"-rest", "1")}
	v2 := []companion.Spec{crashSpec(prefix+"-ui", "2"), crashSpec(prefix+"-rest", "1"), crashSpec(prefix+"-extra", "1")}
	install := func(specs []companion.Spec) func(context.Context, *companion.Manager, string) error {
		return func(ctx context.Context, m *companion.Manager, app string) error {
			if err := m.Register(app, specs...); err != nil {
				return err
			}
			return m.Install(ctx, app)
		}
	}
	return []crashCase{
		{name: "install", next: v1, op: install(v1)},
		{name: "upgrade", prior: v1, next: v2, op: install(v2)},
		// The killed daemon never registered the app: Remove works from the unit directory.
		{name: "uninstall", prior: v1, op: func(ctx context.Context, m *companion.Manager, app string) error { return m.Remove(ctx, app) }},
	}
}

// crashNode is the wiring of a daemon: podman, the user manager, companions.
type crashNode struct {
	rt    *podman.Runtime
	units *systemd.Manager
}

func newCrashNode(ctx context.Context) (*crashNode, error) {
	rt, err := podman.New(ctx, podman.DefaultSocket())
	if err != nil {
		return nil, err
	}
	units, err := systemd.New(ctx, systemd.User)
	if err != nil {
		return nil, err
	}
	return &crashNode{rt: rt, units: units}, nil
}

func (n *crashNode) manager(t testing.TB, units companion.Units) *companion.Manager {
	m, err := companion.New(units, n.rt, companion.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// killer is the killed daemon's unit manager: it counts the mutating calls and SIGKILLs its
// process right before or right after the kill-th.
type killer struct {
	companion.Units
	kill  int
	after bool
	steps []string
}

func (k *killer) step(name string, f func() error) error {
	k.steps = append(k.steps, name)
	die := func() {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	if len(k.steps) == k.kill && !k.after {
		die()
	}
	err := f()
	if len(k.steps) == k.kill && k.after {
		die()
	}
	return err
}

func (k *killer) Reload(ctx context.Context) error {
	return k.step("reload", func() error { return k.Units.Reload(ctx) })
}
func (k *killer) Start(ctx context.Context, u string) error {
	return k.step("start "+u, func() error { return k.Units.Start(ctx, u) })
}
func (k *killer) Stop(ctx context.Context, u string) error {
	return k.step("stop "+u, func() error { return k.Units.Stop(ctx, u) })
}
func (k *killer) Restart(ctx context.Context, u string) error {
	return k.step("restart "+u, func() error { return k.Units.Restart(ctx, u) })
}
func (k *killer) ResetFailed(ctx context.Context, u string) error {
	return k.step("reset-failed "+u, func() error { return k.Units.ResetFailed(ctx, u) })
}

// TestCompanionCrashDaemon is the killed daemon; it runs only when re-executed by
// TestCompanionCrashAtEveryStep. With kill 0 it runs to the end and prints its steps.
func TestCompanionCrashDaemon(t *testing.T) {
	arg := os.Getenv(crashEnv)
	if arg == "" {
		t.Skip("the killed daemon of TestCompanionCrashAtEveryStep")
	}
	parts := strings.Split(arg, "|") // case|prefix|kill|after
	kill, _ := strconv.Atoi(parts[2])
	ctx := context.Background()
	n, err := newCrashNode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k := &killer{Units: n.units, kill: kill, after: parts[3] == "after"}
	m := n.manager(t, k)
	for _, c := range crashCases(parts[1]) {
		if c.name == parts[0] {
			err = c.op(ctx, m, parts[1]+"-lnd")
		}
	}
	fmt.Printf("steps=%s err=%v\n", strings.Join(k.steps, ";"), err)
}

func TestCompanionCrashAtEveryStep(t *testing.T) {
	ctx := context.Background()
	n, err := newCrashNode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.units.Close)
	prefix := uniq("crash")
	app := prefix + "-lnd"
	reset := func(t *testing.T) {
		t.Helper()
		if err := n.manager(t, n.units).Remove(ctx, app); err != nil {
			t.Fatalf("reset: %v", err)
		}
	}
	t.Cleanup(func() { reset(t) })
	for _, c := range crashCases(prefix) {
		t.Run(c.name, func(t *testing.T) {
			prepare := func(t *testing.T) {
				reset(t)
				if c.prior != nil {
					m := n.manager(t, n.units)
					if err := m.Register(app, c.prior...); err != nil {
						t.Fatal(err)
					}
					if err := m.Install(ctx, app); err != nil {
						t.Fatalf("prior install: %v", err)
					}
				}
			}
			prepare(t)
			out, err := runCrashDaemon(c.name, prefix, 0, false)
			var steps string
			for _, line := range strings.Split(out, "\n") {
				if rest, ok := strings.CutPrefix(line, "steps="); ok {
					steps, _, _ = strings.Cut(rest, " err=")
				}
			}
			if err != nil || !strings.Contains(out, "err=<nil>") || steps == "" {
				t.Fatalf("clean run: %v\n%s", err, out)
			}
			t.Logf("steps: %s", steps)
			checkConverged(t, n, app, c)
			for i, step := range strings.Split(steps, ";") {
				for _, after := range []bool{false, true} {
					when := map[bool]string{false: "before", true: "after"}[after]
					t.Run(fmt.Sprintf("SIGKILL %s %d %s", when, i+1, step), func(t *testing.T) {
						prepare(t)
						out, err := runCrashDaemon(c.name, prefix, i+1, after)
						var ee *exec.ExitError
						if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
							t.Fatalf("the daemon was not killed: %v\n%s", err, out)
						}
						checkConverged(t, n, app, c)
					})
				}
			}
		})
	}
}

func runCrashDaemon(name, prefix string, kill int, after bool) (string, error) {
	cmd := exec.Command(os.Args[0], "-test.run", "^TestCompanionCrashDaemon$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%s|%d|%s", crashEnv, name, prefix, kill,
		map[bool]string{false: "before", true: "after"}[after]))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// checkConverged starts the next daemon (it registers c.next only), runs one pass and checks
// the node: exactly c.next's units active, each on its current unit file, nothing else of the
// app's in the unit directory or in systemd, no container of a companion not desired; a second
// pass does nothing.
func checkConverged(t *testing.T, n *crashNode, app string, c crashCase) {
	t.Helper()
	ctx := context.Background()
	m := n.manager(t, n.units)
	if len(c.next) > 0 {
		if err := m.Register(app, c.next...); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range m.Reconcile(ctx) {
		if r.App == app && r.Err != nil {
			t.Errorf("pass: %s: %v", r.Unit, r.Err)
		}
	}
	want := map[string]companion.Spec{}
	for _, s := range c.next {
		want[s.Name] = s
	}
	var wantFiles []string
	for _, name := range slices.Sorted(maps.Keys(want)) {
		wantFiles = append(wantFiles, quadlet.FileName(name))
	}
	dir, _ := quadlet.UserDir()
	entries, _ := os.ReadDir(dir)
	var gotFiles []string
	prefix := strings.TrimSuffix(app, "-lnd")
	for _, e := range entries {
		if strings.HasPrefix(strings.TrimPrefix(e.Name(), "."), prefix) {
			gotFiles = append(gotFiles, e.Name())
		}
	}
	if !slices.Equal(gotFiles, wantFiles) {
		t.Errorf("unit directory: %v, want %v", gotFiles, wantFiles)
	}
	for _, name := range []string{prefix + "-ui", prefix + "-rest", prefix + "-extra"} {
		unit := quadlet.ServiceName(name)
		st, err := n.units.Unit(ctx, unit)
		if err != nil {
			t.Fatal(err)
		}
		env := containerEnv(t, name)
		s, desired := want[name]
		switch {
		case desired && (st.ActiveState != "active" || !st.Loaded() || st.NeedDaemonReload):
			t.Errorf("%s: %+v, want active, loaded, not stale", unit, st)
		case desired && !slices.Contains(env, "VERSION="+s.Env["VERSION"]):
			t.Errorf("%s runs an older unit file: env %v, want VERSION=%s", name, env, s.Env["VERSION"])
		case !desired && (st.Loaded() || st.Active()):
			t.Errorf("%s: %+v, want gone", unit, st)
		case !desired && env != nil:
			t.Errorf("%s: a container is left: %v", name, env)
		}
	}
	for _, r := range n.manager(t, n.units).Reconcile(ctx) {
		if r.App == app && (r.Action != companion.ActionNone || r.Rewritten || r.Err != nil) {
			t.Errorf("second pass acted: %+v", r)
		}
	}
}

// containerEnv returns the environment of a running container of that name, nil when none runs.
func containerEnv(t *testing.T, name string) []string {
	t.Helper()
	out, err := exec.Command("podman", "inspect", "--format", "{{.State.Running}} {{range .Config.Env}}{{.}} {{end}}", name).Output()
	if err != nil {
		return nil // no such container
	}
	f := strings.Fields(string(out))
	if len(f) == 0 || f[0] != "true" {
		return nil
	}
	return f[1:]
}

// The generated service of a companion, ownership marker included, passes systemd-analyze
// verify, and a pass over a fresh unit directory of the real user manager is a no-op once
// converged.
func TestCompanionGeneratedServiceVerifies(t *testing.T) {
	ctx := context.Background()
	n, err := newCrashNode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.units.Close)
	app := uniq("verify")
	m := n.manager(t, n.units)
	t.Cleanup(func() { n.manager(t, n.units).Remove(ctx, app) })
	if err := m.Register(app, crashSpec(app+"-ui", "1")); err != nil {
		t.Fatal(err)
	}
	if err := m.Install(ctx, app); err != nil {
		t.Fatal(err)
	}
	generated := filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "systemd", "generator", app+"-ui.service")
	data, err := os.ReadFile(generated)
	if err != nil {
		t.Fatal(err)
	}
	// Quadlet keeps the file's leading comments, the marker among them, under its own header.
	if head, _, _ := strings.Cut(string(data), "[Unit]"); !strings.Contains(head, "\n# skerry: companion-of="+app+"\n") {
		t.Errorf("generated service:\n%s", data)
	}
	out, err := exec.Command("systemd-analyze", "--user", "verify", generated).CombinedOutput()
	if err != nil || strings.Contains(string(out), app) {
		t.Fatalf("systemd-analyze --user verify: %v\n%s", err, out)
	}
	if st, err := n.units.Unit(ctx, app+"-ui.service"); err != nil || st.NeedDaemonReload || st.ActiveState != "active" {
		t.Fatalf("%+v %v", st, err)
	}
	// A daemon restarted with an empty app list reports the companion as an orphan and leaves it.
	var orphan *companion.UnitReport
	for _, r := range n.manager(t, n.units).Reconcile(ctx) {
		if r.App == app {
			orphan = &r
		}
	}
	if orphan == nil || orphan.Status != companion.StatusOrphan || orphan.Action != companion.ActionNone {
		t.Fatalf("orphan report: %+v", orphan)
	}
	if env := containerEnv(t, app+"-ui"); env == nil {
		t.Fatal("the orphan was stopped")
	}
	// And Remove from a daemon that never registered the app removes it.
	if err := n.manager(t, n.units).Remove(ctx, app); err != nil {
		t.Fatal(err)
	}
	if st, _ := n.units.Unit(ctx, app+"-ui.service"); st.Loaded() || st.Active() || containerEnv(t, app+"-ui") != nil {
		t.Fatalf("after remove: %+v", st)
	}
}
