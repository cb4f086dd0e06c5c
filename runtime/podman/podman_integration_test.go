//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/volumes"

	"github.com/skerry-dev/skerry/runtime"
)

// These tests run against a real rootless Podman 5 API socket (test/itest/run.sh runs them
// inside the integration environment as an unprivileged user).

const testImage = "localhost/busybox:latest"

func connect(t *testing.T) *Runtime {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := New(ctx, DefaultSocket())
	if err != nil {
		t.Fatalf("the integration environment must provide a podman socket: %v", err)
	}
	return r
}

func uniq(prefix string) string { return fmt.Sprintf("%s-%06d", prefix, rand.IntN(1000000)) }

func webSpec(name string, port uint16) runtime.ContainerSpec {
	return runtime.ContainerSpec{
		Name:    name,
		Image:   testImage,
		Command: []string{"httpd", "-f", "-p", "8080", "-h", "/www"},
		Env:     map[string]string{"SECRET": "s3cret"},
		Ports:   []runtime.Port{{HostIP: "127.0.0.1", HostPort: port, ContainerPort: 8080}},
		Mounts:  []runtime.Mount{{Type: runtime.MountVolume, Source: name + "-data", Target: "/data"}},
		Labels:  map[string]string{runtime.LabelManaged: "true", runtime.LabelApp: name, "test": "podman-adapter"},
		HealthCheck: &runtime.HealthCheck{Command: []string{"wget", "-q", "-O-", "http://127.0.0.1:8080/"},
			Interval: 30 * time.Second, Timeout: 5 * time.Second, Retries: 3},
		StopTimeout: time.Second, // busybox httpd as PID 1 ignores SIGTERM
	}
}

func cleanup(t *testing.T, r *Runtime, name string) {
	t.Cleanup(func() {
		ctx := context.Background()
		_ = r.Remove(ctx, name, runtime.RemoveOptions{Force: true, Volumes: true})
		_, _ = volumes.Remove(r.with(ctx), name+"-data", nil), error(nil)
	})
}

func TestLifecycleAgainstPodman(t *testing.T) {
	r := connect(t)
	ctx := context.Background()
	name := uniq("adapter")
	cleanup(t, r, name)
	spec := webSpec(name, 18080)
	if err := r.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := r.Create(ctx, spec); !errors.Is(err, runtime.ErrAlreadyExists) {
		t.Fatalf("second create: %v, want ErrAlreadyExists", err)
	}
	o, err := r.Inspect(ctx, name)
	if err != nil || o.State != runtime.StateCreated || o.SpecHash() != "" || o.Labels["test"] != "podman-adapter" {
		t.Fatalf("after create: %+v %v", o, err)
	}
	if err := r.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	if h, err := r.RunHealthCheck(ctx, name); err != nil || h != runtime.HealthHealthy {
		t.Fatalf("healthcheck: %v %v", h, err)
	}
	list, err := r.List(ctx, runtime.ListOptions{Labels: map[string]string{runtime.LabelApp: name}})
	if err != nil || len(list) != 1 {
		t.Fatalf("list by label: %v %v", list, err)
	}
	if l := list[0]; l.Name != name || l.State != runtime.StateRunning || l.Health != runtime.HealthHealthy || l.StartedAt.IsZero() {
		t.Fatalf("listed %+v", l)
	}
	if err := r.Stop(ctx, name, time.Second); err != nil {
		t.Fatal(err)
	}
	if o, _ := r.Inspect(ctx, name); o.State != runtime.StateExited {
		t.Fatalf("after stop: %v", o.State)
	}
	// Right after a stop, the previous run's pasta may still hold the host port for a moment:
	// podman answers ErrPortInUse (typed), and the next attempt succeeds.
	for deadline := time.Now().Add(5 * time.Second); ; {
		err := r.Start(ctx, name)
		if err == nil {
			break
		}
		if !errors.Is(err, runtime.ErrPortInUse) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		t.Logf("start right after stop: %v; again", err)
		time.Sleep(100 * time.Millisecond)
	}
	if err := r.Kill(ctx, name, "SIGKILL"); err != nil {
		t.Fatal(err)
	}
	// Podman reports a killed container "stopped" until its cleanup ran, then "exited"; the
	// orchestrator treats both alike.
	if o, _ := r.Inspect(ctx, name); (o.State != runtime.StateExited && o.State != runtime.StateStopped) || o.ExitCode != 137 {
		t.Fatalf("after kill: %v %d", o.State, o.ExitCode)
	}
	if lines, err := r.Logs(ctx, name, 5); err != nil {
		t.Fatalf("logs: %v", err)
	} else {
		t.Logf("log tail: %q", lines)
	}
	// Remove keeps the named volume.
	if err := r.Remove(ctx, name, runtime.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Inspect(ctx, name); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("inspect after remove: %v", err)
	}
	if ok, err := volumes.Exists(r.with(ctx), name+"-data", nil); err != nil || !ok {
		t.Fatalf("named volume gone after a remove without Volumes: %v %v", ok, err)
	}
}

func TestPurgeRemovesNamedVolumes(t *testing.T) {
	r := connect(t)
	ctx := context.Background()
	name := uniq("purge")
	cleanup(t, r, name)
	if err := r.Create(ctx, webSpec(name, 18081)); err != nil {
		t.Fatal(err)
	}
	if err := r.Remove(ctx, name, runtime.RemoveOptions{Force: true, Volumes: true}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := volumes.Exists(r.with(ctx), name+"-data", nil); ok {
		t.Fatal("purge kept the named volume")
	}
}

func TestSentinelErrors(t *testing.T) {
	r := connect(t)
	ctx := context.Background()
	for op, err := range map[string]error{
		"inspect": func() error { _, err := r.Inspect(ctx, "no-such-container"); return err }(),
		"start":   r.Start(ctx, "no-such-container"),
		"stop":    r.Stop(ctx, "no-such-container", time.Second),
		"remove":  r.Remove(ctx, "no-such-container", runtime.RemoveOptions{Force: true}),
	} {
		if !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", op, err)
		}
	}
	spec := webSpec(uniq("noimage"), 18082)
	spec.Image = "localhost/does-not-exist:1"
	if err := r.Create(ctx, spec); !errors.Is(err, runtime.ErrImageNotFound) {
		t.Errorf("create with a missing image: %v, want ErrImageNotFound", err)
	}
	if ok, err := r.ImageExists(ctx, testImage); err != nil || !ok {
		t.Errorf("image exists: %v %v", ok, err)
	}
	if ok, err := r.ImageExists(ctx, "localhost/does-not-exist:1"); err != nil || ok {
		t.Errorf("missing image exists: %v %v", ok, err)
	}
	// No registry is reachable here: a pull fails, quickly and quietly.
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := r.Pull(pctx, "127.0.0.1:5999/nothing:1", runtime.PullOptions{Insecure: true}); err == nil {
		t.Error("pull from an unreachable registry succeeded")
	}
	if _, err := New(ctx, "unix:///nonexistent/podman.sock"); !errors.Is(err, runtime.ErrUnavailable) {
		t.Errorf("connect to a missing socket: %v, want ErrUnavailable", err)
	}
}

func TestPausedAndStates(t *testing.T) {
	r := connect(t)
	ctx := context.Background()
	name := uniq("states")
	cleanup(t, r, name)
	spec := webSpec(name, 18083)
	spec.HealthCheck = nil
	if err := r.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	r.Start(ctx, name)
	if o, _ := r.Inspect(ctx, name); o.Health != runtime.HealthNone {
		t.Fatalf("no health check: health %v", o.Health)
	}
	if err := containers.Pause(r.with(ctx), name, nil); err != nil {
		t.Skipf("pause is not available in this environment: %v", err)
	}
	if o, _ := r.Inspect(ctx, name); o.State != runtime.StatePaused {
		t.Fatalf("paused container reads %v", o.State)
	}
}

func TestEventsStream(t *testing.T) {
	r := connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := uniq("events")
	cleanup(t, r, name)
	events, err := r.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	spec := webSpec(name, 18084)
	if err := r.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	r.Start(ctx, name)
	r.Kill(ctx, name, "SIGKILL")
	var kinds []string
	for e := range events {
		if e.Container != name {
			continue
		}
		if e.App != name {
			t.Errorf("event %+v lacks the app label", e)
		}
		kinds = append(kinds, e.Kind)
		if e.Kind == "died" {
			break
		}
	}
	for _, want := range []string{"create", "start", "died"} {
		if !slices.Contains(kinds, want) {
			t.Fatalf("events %v lack %q", kinds, want)
		}
	}
	cancel()
	for range events { // the channel closes once ctx ends
	}
}

// TestSurvivesPodmanServiceRestart: with the API service and its socket gone, calls fail with
// ErrUnavailable; once the socket is back, the same Runtime works without reconnecting by hand.
func TestSurvivesPodmanServiceRestart(t *testing.T) {
	r := connect(t)
	ctx := context.Background()
	systemctl := func(args ...string) {
		if out, err := exec.Command("systemctl", append([]string{"--user"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("systemctl %v: %v %s", args, err, out)
		}
	}
	if _, err := r.List(ctx, runtime.ManagedOnly()); err != nil {
		t.Fatal(err)
	}
	systemctl("stop", "podman.socket", "podman.service")
	t.Cleanup(func() { systemctl("start", "podman.socket") })
	if _, err := r.List(ctx, runtime.ManagedOnly()); !errors.Is(err, runtime.ErrUnavailable) {
		t.Fatalf("list with the service gone: %v, want ErrUnavailable", err)
	}
	systemctl("start", "podman.socket")
	if _, err := r.List(ctx, runtime.ManagedOnly()); err != nil {
		t.Fatalf("list after the socket came back: %v", err)
	}
}

// A check of interval 0 gets no systemd timer (podman runs none at start) and is recorded only
// when run on demand; a scheduled check gets its timer. This is what
// orchestrator.Options.ScheduleExecChecks relies on.
func TestUnscheduledCheckHasNoTimer(t *testing.T) {
	r := connect(t)
	ctx := context.Background()
	units := func(id string) string {
		out, err := exec.Command("systemctl", "--user", "list-units", "--all", "--plain", "--no-legend", id+"*").CombinedOutput()
		if err != nil {
			t.Fatalf("systemctl: %v: %s", err, out)
		}
		return string(out)
	}
	for _, interval := range []time.Duration{30 * time.Second, 0} {
		name := uniq("hcsched")
		cleanup(t, r, name)
		spec := webSpec(name, 0)
		spec.Ports = nil
		spec.HealthCheck.Interval = interval
		if err := r.Create(ctx, spec); err != nil {
			t.Fatal(err)
		}
		if err := r.Start(ctx, name); err != nil {
			t.Fatal(err)
		}
		o, err := r.Inspect(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		timers := units(o.ID)
		if (interval > 0) != (timers != "") {
			t.Fatalf("interval %v: units of the container: %q", interval, timers)
		}
		if interval > 0 {
			continue
		}
		if o.Health != runtime.HealthStarting {
			t.Fatalf("before any check: %v", o.Health)
		}
		if h, err := r.RunHealthCheck(ctx, name); err != nil || h != runtime.HealthHealthy {
			t.Fatalf("check on demand: %v %v", h, err)
		}
		if o, _ = r.Inspect(ctx, name); o.Health != runtime.HealthHealthy {
			t.Fatalf("recorded: %v", o.Health)
		}
		if err := r.Stop(ctx, name, time.Second); err != nil {
			t.Fatal(err)
		}
		if h, err := r.RunHealthCheck(ctx, name); err == nil {
			t.Fatalf("a check of a stopped container ran: %v", h)
		}
	}
}
