package fake_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skerry-dev/skerry/quadlet"
	"github.com/skerry-dev/skerry/quadlet/fake"
)

const unitV1 = "[Container]\nImage=a:1\n[Service]\nRestart=always\n"

func write(t *testing.T, dir, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "ui.container"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func unit(t *testing.T, m *fake.Manager) quadlet.UnitState {
	t.Helper()
	st, err := m.Unit(context.Background(), "ui.service")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestQuadletWindows(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	m := fake.New(dir)

	write(t, dir, unitV1) // present, not loaded
	if st := unit(t, m); st.Loaded() || !st.NeedDaemonReload {
		t.Fatalf("written, not reloaded: %+v", st)
	}
	if err := m.Start(ctx, "ui.service"); !errors.Is(err, quadlet.ErrNoSuchUnit) {
		t.Fatalf("start before the reload: %v", err)
	}
	m.Reload(ctx)
	if err := m.Start(ctx, "ui.service"); err != nil {
		t.Fatal(err)
	}

	write(t, dir, "[Container]\nImage=a:2\n") // stale
	if st := unit(t, m); !st.NeedDaemonReload {
		t.Fatalf("changed, not reloaded: %+v", st)
	}
	m.Reload(ctx)
	m.Start(ctx, "ui.service") // already active: keeps what it runs
	if running, _ := m.Running("ui.service"); running != unitV1 {
		t.Fatalf("a start of an active unit changed what it runs: %q", running)
	}
	m.Restart(ctx, "ui.service")
	if running, _ := m.Running("ui.service"); running != "[Container]\nImage=a:2\n" {
		t.Fatalf("after the restart: %q", running)
	}

	os.Remove(filepath.Join(dir, "ui.container")) // loaded, file gone
	if st := unit(t, m); !st.Loaded() || !st.NeedDaemonReload || !st.Active() {
		t.Fatalf("file gone, not reloaded: %+v", st)
	}
	m.Reload(ctx)
	if st := unit(t, m); st.Loaded() || !st.Active() {
		t.Fatalf("a running unit whose file is gone keeps running: %+v", st)
	}
	m.Stop(ctx, "ui.service")
	if st := unit(t, m); st.Loaded() || st.Active() {
		t.Fatalf("stopped: %+v", st)
	}
	want := []string{"reload", "start ui.service", "reload", "start ui.service", "restart ui.service", "reload", "stop ui.service"}
	if diff := cmp.Diff(want, m.Journal()); diff != "" {
		t.Fatalf("journal (-want +got):\n%s", diff)
	}
}

func TestCrashAt(t *testing.T) {
	ctx := context.Background()
	for _, after := range []bool{false, true} {
		dir := t.TempDir()
		m := fake.New(dir)
		write(t, dir, unitV1)
		m.CrashAt(2, after)
		m.Reload(ctx)
		var crash any
		func() {
			defer func() { crash = recover() }()
			m.Start(ctx, "ui.service")
		}()
		if diff := cmp.Diff(fake.Crash{Step: "start ui.service", After: after}, crash); diff != "" {
			t.Fatalf("crash (-want +got):\n%s", diff)
		}
		if got := m.State("ui.service").Active(); got != after {
			t.Fatalf("crash after=%v: active %v", after, got)
		}
		m.Stop(ctx, "ui.service") // fires once
	}
}

func TestCrashLoopAndFail(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	m := fake.New(dir)
	write(t, dir, unitV1)
	m.Reload(ctx)
	m.Start(ctx, "ui.service")
	m.CrashLoop("ui.service")
	if st := unit(t, m); st.ActiveState != "activating" || st.SubState != "auto-restart" || st.NRestarts != 1 || !st.Active() {
		t.Fatalf("crash loop: %+v", st)
	}
	m.Fail("ui.service")
	if st := unit(t, m); st.ActiveState != "failed" || st.Active() {
		t.Fatalf("failed: %+v", st)
	}
}

// A service stopped in the middle of its start, whose PID 1 ignores SIGTERM, holds the stop
// (and a restart) until the caller's ctx ends; one that is up stops at once.
func TestStopOfAStartingServiceHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		dir := t.TempDir()
		m := fake.New(dir)
		write(t, dir, unitV1)
		m.Reload(ctx)
		m.Start(ctx, "ui.service")
		m.IgnoreSIGTERM("ui.service")
		m.Starting("ui.service")
		if st := unit(t, m); st.ActiveState != "activating" || st.SubState != "start" {
			t.Fatalf("starting: %+v", st)
		}
		for _, verb := range []string{"stop", "restart"} {
			began := time.Now()
			sctx, cancel := context.WithTimeout(ctx, time.Minute)
			call := m.Stop
			if verb == "restart" {
				call = m.Restart
			}
			err := call(sctx, "ui.service")
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) || time.Since(began) != time.Minute {
				t.Errorf("%s of a starting service: %v after %v, want the ctx's deadline after 1m", verb, err, time.Since(began))
			}
			if m.Calls(verb) != 1 {
				t.Errorf("%s counted %d times", verb, m.Calls(verb))
			}
		}
		m.Start(ctx, "ui.service") // the start ends: up
		if err := m.Stop(ctx, "ui.service"); err != nil || unit(t, m).ActiveState != "failed" {
			t.Fatalf("stop of the service once up: %v, %+v", err, unit(t, m))
		}
	})
}
