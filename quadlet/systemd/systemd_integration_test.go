//go:build integration

package systemd_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/quadlet"
	"github.com/skerry-dev/skerry/quadlet/systemd"
)

// These tests drive the real systemd user manager over D-Bus, with the real Quadlet generator
// (test/itest/run.sh runs them inside the integration environment as an unprivileged user).

var _ companion.Units = (*systemd.Manager)(nil)

func connect(t *testing.T) *systemd.Manager {
	t.Helper()
	m, err := systemd.New(context.Background(), systemd.User)
	if err != nil {
		t.Fatalf("the integration environment must provide a user manager: %v", err)
	}
	t.Cleanup(m.Close)
	return m
}

func unitDir(t *testing.T) string {
	dir, err := quadlet.UserDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeUnit renders and writes a busybox unit and removes it (stop, delete, reload) at cleanup.
func writeUnit(t *testing.T, m *systemd.Manager, name string, u quadlet.Unit) string {
	t.Helper()
	data, err := quadlet.Render(name, u, quadlet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(unitDir(t), quadlet.FileName(name))
	if _, err := quadlet.WriteIfChanged(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		m.Stop(ctx, quadlet.ServiceName(name))
		os.Remove(path)
		m.Reload(ctx)
		m.ResetFailed(ctx, quadlet.ServiceName(name))
	})
	return path
}

func busyboxUnit(restartSec time.Duration) quadlet.Unit {
	return quadlet.Unit{
		Container: quadlet.Container{Image: "localhost/busybox:latest", Exec: []string{"httpd", "-f", "-p", "8080", "-h", "/www"},
			HealthCmd: []string{"wget", "-q", "-O-", "http://127.0.0.1:8080/"}, HealthInterval: 30 * time.Second, Notify: "healthy",
			StopTimeout: time.Second},
		Service:  quadlet.Service{Restart: "always", RestartSec: restartSec},
		WantedBy: []string{"default.target"},
	}
}

func TestUnitLifecycle(t *testing.T) {
	m := connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := fmt.Sprintf("skerry-it-%06d", rand.IntN(1000000))
	unit := quadlet.ServiceName(name)
	writeUnit(t, m, name, busyboxUnit(time.Second))

	if err := m.Start(ctx, unit); !errors.Is(err, quadlet.ErrNoSuchUnit) {
		t.Fatalf("start before reload: %v, want ErrNoSuchUnit", err)
	}
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := m.States(ctx, []string{unit, "no-such-skerry-unit.service"})
	if err != nil || !st[unit].Loaded() || st[unit].Active() || st["no-such-skerry-unit.service"].Loaded() {
		t.Fatalf("states after reload: %+v %v", st, err)
	}
	if err := m.Start(ctx, unit); err != nil { // Notify=healthy: returns once the check passed
		t.Fatal(err)
	}
	st, _ = m.States(ctx, []string{unit})
	if st[unit].ActiveState != "active" {
		t.Fatalf("after start: %+v", st[unit])
	}
	// Restart=always brings the container back after a kill.
	if out, err := exec.Command("podman", "kill", "systemd-"+name).CombinedOutput(); err != nil {
		t.Fatalf("podman kill: %v %s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		u, err := m.Unit(ctx, unit)
		if err == nil && u.NRestarts >= 1 && u.ActiveState == "active" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not restarted: %+v %v", u, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A changed file shows as NeedDaemonReload until the next reload.
	u := busyboxUnit(2 * time.Second)
	data, _ := quadlet.Render(name, u, quadlet.Options{})
	quadlet.WriteIfChanged(filepath.Join(unitDir(t), quadlet.FileName(name)), data, 0o644)
	if u, err := m.Unit(ctx, unit); err != nil || !u.NeedDaemonReload {
		t.Fatalf("after a file change: %+v %v, want NeedDaemonReload", u, err)
	}
	m.Reload(ctx)
	if u, err := m.Unit(ctx, unit); err != nil || u.NeedDaemonReload {
		t.Fatalf("after reload: %+v %v", u, err)
	}
	if err := m.Restart(ctx, unit); err != nil {
		t.Fatal(err)
	}
	if err := m.Stop(ctx, unit); err != nil {
		t.Fatal(err)
	}
	if st, _ = m.States(ctx, []string{unit}); st[unit].Active() {
		t.Fatalf("after stop: %+v", st[unit])
	}
	if err := m.Stop(ctx, "no-such-skerry-unit.service"); err != nil {
		t.Fatalf("stop of an unknown unit: %v", err)
	}
	if err := m.ResetFailed(ctx, "no-such-skerry-unit.service"); err != nil {
		t.Fatalf("reset-failed of an unknown unit: %v", err)
	}
}

func TestFailedStartIsAnError(t *testing.T) {
	m := connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := fmt.Sprintf("skerry-it-bad-%06d", rand.IntN(1000000))
	u := quadlet.Unit{Container: quadlet.Container{Image: "localhost/does-not-exist:1", Pull: "never"}}
	writeUnit(t, m, name, u)
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	err := m.Start(ctx, quadlet.ServiceName(name))
	if !errors.Is(err, quadlet.ErrJobFailed) || !strings.Contains(err.Error(), "failed") {
		t.Fatalf("start of a unit whose image is missing: %v, want a failed job", err)
	}
}

func TestUnitChangesStreamsStateChanges(t *testing.T) {
	m := connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := fmt.Sprintf("skerry-it-ch-%06d", rand.IntN(1000000))
	unit := quadlet.ServiceName(name)
	writeUnit(t, m, name, busyboxUnit(time.Second))
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	// Another unit, started too, whose changes must not be streamed.
	other := fmt.Sprintf("skerry-it-ch-%06d", rand.IntN(1000000))
	writeUnit(t, m, other, busyboxUnit(time.Second))
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	changes, err := m.UnitChanges(ctx, []string{unit})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx, quadlet.ServiceName(other)); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx, unit); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-changes:
		if got != unit {
			t.Fatalf("streamed a change of %s, watching only %s", got, unit)
		}
	case <-ctx.Done():
		t.Fatalf("no change of %s seen", unit)
	}
}

// A daemon hands New its own context and cancels it on SIGTERM, then lets the running pass
// finish: the manager must keep working until Close.
func TestManagerOutlivesNewContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	m, err := systemd.New(ctx, systemd.User)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cancel()
	for range 5 {
		if _, err := m.States(context.Background(), []string{"default.target"}); err != nil {
			t.Fatalf("a call after New's ctx ended: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := m.Reload(context.Background()); err != nil {
		t.Fatalf("a reload after New's ctx ended: %v", err)
	}
}

// After the user bus restarts, calls fail with ErrUnavailable until the bus and the manager are
// back, then succeed over a new connection; a unit-change stream ends and can be opened again.
// Last in this file: it restarts the bus under the whole session.
func TestManagerSurvivesBusRestart(t *testing.T) {
	m := connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := fmt.Sprintf("skerry-it-bus-%06d", rand.IntN(1000000))
	unit := quadlet.ServiceName(name)
	writeUnit(t, m, name, busyboxUnit(time.Second))
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := m.UnitChanges(ctx, []string{unit})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("systemctl", "--user", "restart", "dbus.service").CombinedOutput(); err != nil {
		t.Fatalf("restart the user bus: %v %s", err, out)
	}
	for range before { // the stream ends with its connection
	}
	deadline := time.Now().Add(30 * time.Second)
	var unavailable int
	for {
		_, err := m.States(ctx, []string{unit})
		if err == nil {
			break
		}
		if !errors.Is(err, quadlet.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("after the bus restarted: %v, want ErrUnavailable until it is back, then success", err)
		}
		unavailable++
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d calls failed with ErrUnavailable before the manager was back", unavailable)
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := m.UnitChanges(ctx, []string{unit})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx, unit); err != nil {
		t.Fatalf("a job over the new connection: %v", err)
	}
	select {
	case got := <-after:
		if got != unit {
			t.Fatalf("streamed %s, watching %s", got, unit)
		}
	case <-ctx.Done():
		t.Fatal("the reopened stream saw no change")
	}
}
