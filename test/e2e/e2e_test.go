//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/hooks"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/quadlet"
	"github.com/skerry-dev/skerry/quadlet/systemd"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/podman"
)

const image = "localhost/busybox:latest"

var logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

// node is what a daemon embedding skerry wires: podman, the user manager, companions, the
// orchestrator.
type node struct {
	rt    *podman.Runtime
	units *systemd.Manager
	comps *companion.Manager
	o     *orchestrator.Orchestrator
}

func newNode(tb testing.TB) *node { return newNodeWith(tb, logger, false) }

// newNodeWith is newNode with its own logger and, with secrets, podman's secret store wired into
// the orchestrator.
func newNodeWith(tb testing.TB, logger *slog.Logger, secrets bool) *node {
	tb.Helper()
	ctx := context.Background()
	rt, err := podman.New(ctx, podman.DefaultSocket())
	if err != nil {
		tb.Fatalf("podman: %v", err)
	}
	units, err := systemd.New(ctx, systemd.User)
	if err != nil {
		tb.Fatalf("systemd: %v", err)
	}
	tb.Cleanup(units.Close)
	comps, err := companion.New(units, rt, companion.Options{Logger: logger})
	if err != nil {
		tb.Fatal(err)
	}
	opts := orchestrator.Options{Logger: logger, Companions: comps}
	if secrets {
		opts.Secrets = rt
	}
	return &node{rt: rt, units: units, comps: comps, o: orchestrator.New(rt, opts)}
}

// app is a busybox httpd standing in for a node app: named volume, exec health check.
func app(name string) orchestrator.App {
	return orchestrator.App{
		Name: name,
		Container: runtime.ContainerSpec{
			Image:       image,
			Command:     []string{"httpd", "-f", "-p", "8080", "-h", "/www"},
			Env:         map[string]string{"MODE": "one"},
			Mounts:      []runtime.Mount{{Type: runtime.MountVolume, Source: name + "-data", Target: "/data"}},
			StopTimeout: time.Second, // busybox httpd as PID 1 ignores SIGTERM
		},
		Health:       health.Check{Exec: []string{"wget", "-q", "-O-", "http://127.0.0.1:8080/"}},
		ReadyTimeout: time.Minute,
	}
}

// ui is a companion web UI of app.
func ui(appName string) companion.Spec {
	return companion.Spec{
		Name:    appName + "-ui",
		Image:   image,
		Command: []string{"httpd", "-f", "-p", "8081", "-h", "/www"},
		// Under Notify=healthy a start completes at podman's first scheduled check, one
		// interval after the container started: 2 s keeps the tests quick.
		Health:      health.Check{Exec: []string{"wget", "-q", "-O-", "http://127.0.0.1:8081/"}, Interval: 2 * time.Second, Timeout: time.Second},
		RestartSec:  time.Second,
		StopTimeout: time.Second, // busybox httpd ignores SIGTERM
	}
}

func uniq(prefix string) string { return fmt.Sprintf("e2e-%s-%05d", prefix, rand.IntN(100000)) }

// install registers the companions of a, installs a, and uninstalls with purge at cleanup.
func (n *node) install(t *testing.T, a orchestrator.App, comps ...companion.Spec) {
	t.Helper()
	ctx := context.Background()
	if err := n.comps.Register(a.Name, comps...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.comps.Register(a.Name, comps...)
		n.o.Uninstall(context.Background(), a.Name, orchestrator.UninstallOptions{Purge: true})
		n.comps.Remove(context.Background(), a.Name)
	})
	if _, err := n.o.Install(ctx, a); err != nil {
		t.Fatalf("install %s: %v", a.Name, err)
	}
}

func (n *node) obs(t *testing.T, name string) runtime.Observation {
	t.Helper()
	o, err := n.rt.Inspect(context.Background(), name)
	if errors.Is(err, runtime.ErrNotFound) {
		return runtime.Missing(name)
	}
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func (n *node) mustBeHealthy(t *testing.T, name string) runtime.Observation {
	t.Helper()
	o := n.obs(t, name)
	h, err := n.rt.RunHealthCheck(context.Background(), name)
	if o.State != runtime.StateRunning || err != nil || h != runtime.HealthHealthy {
		t.Fatalf("%s: %v, health %v (%v), want running and healthy", name, o.State, h, err)
	}
	return o
}

// containersOf counts the containers labelled as app's.
func (n *node) containersOf(t *testing.T, appName string) int {
	t.Helper()
	list, err := n.rt.List(context.Background(), runtime.ListOptions{Labels: map[string]string{runtime.LabelApp: appName}})
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

func (n *node) unitState(t *testing.T, unit string) quadlet.UnitState {
	t.Helper()
	st, err := n.units.States(context.Background(), []string{unit})
	if err != nil {
		t.Fatal(err)
	}
	return st[unit]
}

func podmanCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("podman", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestInstallSucceedsOnlyWhenHealthy(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	good := app(uniq("good"))
	n.install(t, good)
	n.mustBeHealthy(t, good.Name)

	// Starts fine, dies a second later: "running but unreachable" must be a failure.
	dying := app(uniq("dying"))
	dying.Container.Command = []string{"sh", "-c", "echo starting up; sleep 1; echo giving up; exit 3"}
	dying.Health = health.Check{}
	t.Cleanup(func() { n.o.Uninstall(ctx, dying.Name, orchestrator.UninstallOptions{Purge: true}) })
	rep, err := n.o.Install(ctx, dying)
	if !errors.Is(err, orchestrator.ErrNotReady) || !strings.Contains(err.Error(), "exit code 3") {
		t.Fatalf("dying app: err = %v, want ErrNotReady with exit code 3", err)
	}
	if !strings.Contains(strings.Join(rep.Logs, "\n"), "giving up") {
		t.Fatalf("report log tail %q lacks the app's last words", rep.Logs)
	}

	// Runs, never passes its check.
	sick := app(uniq("sick"))
	sick.Health = health.Check{Exec: []string{"false"}, Interval: 2 * time.Second, Timeout: time.Second, FailureThreshold: 2}
	sick.ReadyTimeout = 30 * time.Second
	t.Cleanup(func() { n.o.Uninstall(ctx, sick.Name, orchestrator.UninstallOptions{Purge: true}) })
	if _, err := n.o.Install(ctx, sick); !errors.Is(err, orchestrator.ErrNotReady) {
		t.Fatalf("never-healthy app: err = %v, want ErrNotReady", err)
	}
}

func TestInstallOverExistingContainerInEveryState(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	for _, state := range []string{"running", "stopped", "created", "paused"} {
		t.Run(state, func(t *testing.T) {
			a := app(uniq(state))
			t.Cleanup(func() { n.o.Uninstall(ctx, a.Name, orchestrator.UninstallOptions{Purge: true}) })
			if err := n.rt.Create(ctx, a.ContainerSpec()); err != nil {
				t.Fatal(err)
			}
			switch state {
			case "running":
				n.rt.Start(ctx, a.Name)
			case "stopped":
				n.rt.Start(ctx, a.Name)
				n.rt.Stop(ctx, a.Name, time.Second)
			case "paused":
				n.rt.Start(ctx, a.Name)
				podmanCLI(t, "pause", a.Name)
			}
			for i := range 2 {
				if _, err := n.o.Install(ctx, a); err != nil {
					t.Fatalf("install %d over a %s container: %v", i+1, state, err)
				}
			}
			n.mustBeHealthy(t, a.Name)
			if c := n.containersOf(t, a.Name); c != 1 {
				t.Fatalf("%d containers, want exactly 1", c)
			}
		})
	}
}

func TestCompanionRepairWithinOnePass(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	a := app(uniq("repair"))
	n.install(t, a, ui(a.Name))
	unit := quadlet.ServiceName(a.Name + "-ui")
	dir, _ := quadlet.UserDir()
	file := filepath.Join(dir, quadlet.FileName(a.Name+"-ui"))

	// The file deleted, the service stopped and the manager reloaded: the unit is gone.
	if err := n.units.Stop(ctx, unit); err != nil {
		t.Fatal(err)
	}
	os.Remove(file)
	n.units.Reload(ctx)
	if st := n.unitState(t, unit); st.Loaded() {
		t.Fatalf("unit still loaded: %+v", st)
	}
	reports := n.comps.Reconcile(ctx)
	if len(reports) != 1 || !reports[0].Rewritten || reports[0].Action != "started" || reports[0].Err != nil {
		t.Fatalf("one pass: %+v", reports)
	}
	if st := n.unitState(t, unit); st.ActiveState != "active" {
		t.Fatalf("after one pass: %+v", st)
	}
	n.mustBeHealthy(t, a.Name+"-ui")

	// Only stopped.
	if err := n.units.Stop(ctx, unit); err != nil {
		t.Fatal(err)
	}
	reports = n.comps.Reconcile(ctx)
	if reports[0].Action != "started" || reports[0].Rewritten || reports[0].Err != nil {
		t.Fatalf("stopped service: %+v", reports)
	}
	if st := n.unitState(t, unit); st.ActiveState != "active" {
		t.Fatalf("after one pass: %+v", st)
	}
}

func TestKilledAndRemovedAppsRecoverInOnePass(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	a := app(uniq("tamper"))
	n.install(t, a)
	podmanCLI(t, "kill", a.Name)
	rep := n.o.ReconcileAll(ctx)
	if rep.Err != nil || rep.Acted() != 1 {
		t.Fatalf("after podman kill: %v", rep)
	}
	n.mustBeHealthy(t, a.Name)
	podmanCLI(t, "rm", "-f", a.Name)
	rep = n.o.ReconcileAll(ctx)
	if rep.Err != nil || rep.Acted() != 1 {
		t.Fatalf("after podman rm -f: %v", rep)
	}
	n.mustBeHealthy(t, a.Name)
}

func TestUninstallKeepsDataAndCompanionsStayDown(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	a := app(uniq("uninstall"))
	n.install(t, a, ui(a.Name))
	podmanCLI(t, "exec", a.Name, "sh", "-c", "echo precious > /data/wallet")
	if _, err := n.o.Uninstall(ctx, a.Name, orchestrator.UninstallOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // longer than the companion's RestartSec: Restart=always must not respawn it
	if st := n.unitState(t, quadlet.ServiceName(a.Name+"-ui")); st.Active() || st.Loaded() {
		t.Fatalf("companion after uninstall: %+v", st)
	}
	if o := n.obs(t, a.Name+"-ui"); o.State != runtime.StateMissing {
		t.Fatalf("companion container after uninstall: %v", o.State)
	}
	if o := n.obs(t, a.Name); o.State != runtime.StateMissing {
		t.Fatalf("app container after uninstall: %v", o.State)
	}
	if out := podmanCLI(t, "volume", "ls", "-q", "--filter", "name="+a.Name+"-data"); out != a.Name+"-data" {
		t.Fatalf("named volume after uninstall: %q", out)
	}
	n.comps.Register(a.Name, ui(a.Name))
	if _, err := n.o.Install(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got := podmanCLI(t, "exec", a.Name, "cat", "/data/wallet"); got != "precious" {
		t.Fatalf("reinstalled app reads %q from its volume", got)
	}
}

func TestDriftAndHookRestart(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	confDir := t.TempDir()
	conf := filepath.Join(confDir, "app.conf")
	password := "first"
	a := app(uniq("drift"))
	a.Container.Mounts = append(a.Container.Mounts, runtime.Mount{Type: runtime.MountBind, Source: confDir, Target: "/conf", ReadOnly: true})
	a.Hooks = []hooks.Hook{hooks.TemplateFile{Path: conf, Mode: 0o644,
		Template: template.Must(template.New("conf").Parse("password={{.}}\n")),
		Data:     func(context.Context) (any, error) { return password, nil }}}
	n.install(t, a)
	first := n.mustBeHealthy(t, a.Name)

	password = "rotated"
	rep := n.o.ReconcileAll(ctx)
	if len(rep.Apps) != 1 || rep.Apps[0].Action != orchestrator.ActionRestart || rep.Apps[0].Err != nil {
		t.Fatalf("after the hook rewrote the config: %v", rep)
	}
	restarted := n.mustBeHealthy(t, a.Name)
	if restarted.ID != first.ID || !restarted.StartedAt.After(first.StartedAt) {
		t.Fatal("the app was not restarted in place")
	}
	if got := podmanCLI(t, "exec", a.Name, "cat", "/conf/app.conf"); got != "password=rotated" {
		t.Fatalf("config inside: %q", got)
	}

	a.Container.Env = map[string]string{"MODE": "two"}
	if r, err := n.o.Install(ctx, a); err != nil || r.Action != orchestrator.ActionRecreate {
		t.Fatalf("env drift: %v %v", r, err)
	}
	recreated := n.mustBeHealthy(t, a.Name)
	if recreated.ID == first.ID || podmanCLI(t, "exec", a.Name, "sh", "-c", "echo $MODE") != "two" {
		t.Fatal("env drift did not recreate the container with the new env")
	}

	podmanCLI(t, "tag", image, "localhost/busybox:e2e-v2")
	a.Container.Image = "localhost/busybox:e2e-v2"
	if r, err := n.o.Install(ctx, a); err != nil || r.Action != orchestrator.ActionRecreate {
		t.Fatalf("image drift: %v %v", r, err)
	}
	if o := n.mustBeHealthy(t, a.Name); o.Image != "localhost/busybox:e2e-v2" || n.containersOf(t, a.Name) != 1 {
		t.Fatalf("image drift: running %s, %d containers", o.Image, n.containersOf(t, a.Name))
	}
}
