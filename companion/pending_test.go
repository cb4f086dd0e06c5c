package companion_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/skerry-dev/skerry/companion"
	qfake "github.com/skerry-dev/skerry/quadlet/fake"
)

func released(rel string) companion.Spec {
	s := uiSpec("bitcoind-ui")
	s.Env = map[string]string{"RELEASE": rel}
	return s
}

// A daemon killed while its restart of a companion onto a new file was starting the unit (a
// Notify=healthy unit starts until its first passing check) leaves the unit starting and the
// restart sidecar on disk. The next daemon's pass must neither restart the unit (stopping a unit
// that starts skips podman's ExecStop; a PID 1 that ignores SIGTERM holds the stop until the
// unit's stop timeout, and the pass, with the manager, until its deadline: fault campaign run
// f565db7) nor wait for it: it reports the restart pending at once. Once the unit is up, the
// next pass restarts it onto the new file and deletes the sidecar.
func TestPassLeavesAStartingCompanionPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := setup(t, companion.Options{})
		ctx := context.Background()
		const unit = "bitcoind-ui.service"
		if err := e.m.Register("bitcoind", released("1")); err != nil {
			t.Fatal(err)
		}
		if err := e.m.Install(ctx, "bitcoind"); err != nil {
			t.Fatal(err)
		}
		e.units.IgnoreSIGTERM(unit) // busybox httpd as PID 1
		killed := e.manager(t, released("2"))
		e.units.CrashAt(2, true) // the reload, then the restart job queued: the daemon dies
		crashed(t, func() { killed.Install(ctx, "bitcoind") })
		e.units.Starting(unit) // the restart job, in its start
		sidecar := filepath.Join(e.dir, "bitcoind-ui.container.skerry-restart")
		if _, err := os.Stat(sidecar); err != nil {
			t.Fatalf("the killed daemon left no restart sidecar: %v", err)
		}

		next := e.manager(t, released("2"))
		restarts := e.units.Calls("restart")
		began := time.Now()
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		reps := next.Reconcile(pctx)
		cancel()
		if took := time.Since(began); took != 0 {
			t.Errorf("the pass waited %v for a companion that starts", took)
		}
		if len(reps) != 1 || !errors.Is(reps[0].Err, companion.ErrPending) || reps[0].Status != companion.StatusStarting ||
			reps[0].Action != companion.ActionNone {
			t.Fatalf("reports %+v, want %s pending (ErrPending), starting, no action", reps, unit)
		}
		if n := e.units.Calls("restart") - restarts; n != 0 {
			t.Errorf("the pass restarted a unit that starts (%d restarts)", n)
		}
		if _, err := os.Stat(sidecar); err != nil {
			t.Errorf("the pending restart's sidecar is gone: %v", err)
		}

		if err := e.units.Start(ctx, unit); err != nil { // the start job ends: the unit is up
			t.Fatal(err)
		}
		reps = next.Reconcile(ctx)
		if len(reps) != 1 || reps[0].Err != nil || reps[0].Action != companion.ActionRestarted || reps[0].Status != companion.StatusActive {
			t.Fatalf("reports %+v, want %s restarted and active", reps, unit)
		}
		if _, err := os.Stat(sidecar); !os.IsNotExist(err) {
			t.Errorf("the sidecar outlives the restart: %v", err)
		}
		want, _ := os.ReadFile(filepath.Join(e.dir, "bitcoind-ui.container"))
		if got, ok := e.units.Running(unit); !ok || got != string(want) {
			t.Errorf("the unit does not run its current file")
		}
	})
}

// An upgrade whose changed companion starts (restarted behind the manager's back) when Install
// runs is pending, not failed: Install neither waits for the start nor rolls the new file back.
func TestInstallDoesNotRollBackAPendingRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := setup(t, companion.Options{})
		ctx := context.Background()
		const unit = "bitcoind-ui.service"
		if err := e.m.Register("bitcoind", released("1")); err != nil {
			t.Fatal(err)
		}
		if err := e.m.Install(ctx, "bitcoind"); err != nil {
			t.Fatal(err)
		}
		e.units.IgnoreSIGTERM(unit)
		e.units.Starting(unit)
		if err := e.m.Register("bitcoind", released("2")); err != nil {
			t.Fatal(err)
		}
		err := e.m.Install(ctx, "bitcoind")
		if !errors.Is(err, companion.ErrPending) || errors.Is(err, companion.ErrRolledBack) {
			t.Fatalf("install: %v, want ErrPending and no rollback", err)
		}
		data, _ := os.ReadFile(filepath.Join(e.dir, "bitcoind-ui.container"))
		if want := "\"RELEASE=2\""; !strings.Contains(string(data), want) {
			t.Errorf("the new file was rolled back:\n%s", data)
		}
		if err := e.units.Start(ctx, unit); err != nil {
			t.Fatal(err)
		}
		if err := e.m.Install(ctx, "bitcoind"); err != nil {
			t.Fatalf("install once the unit is up: %v", err)
		}
		if got, _ := e.units.Running(unit); got != string(data) {
			t.Errorf("the unit does not run the new file")
		}
	})
}

// manager returns a manager over e's directory and units (a daemon of its own), with spec
// registered for bitcoind.
func (e env) manager(t *testing.T, spec companion.Spec) *companion.Manager {
	t.Helper()
	m, err := companion.New(e.units, e.images, companion.Options{Dir: e.dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Register("bitcoind", spec); err != nil {
		t.Fatal(err)
	}
	return m
}

// crashed runs f, which must die of a crash the fake planned.
func crashed(t *testing.T, f func()) {
	t.Helper()
	defer func() {
		if _, ok := recover().(qfake.Crash); !ok {
			t.Fatal("the planned crash did not happen")
		}
	}()
	f()
}
