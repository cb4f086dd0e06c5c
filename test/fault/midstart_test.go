//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package fault_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/quadlet/systemd"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/podman"
)

// The companion of TestCompanionStopMidStart: a Notify=healthy busybox httpd like the
// campaign's, on a port and name of its own, which serves (and so passes its check) only
// midWarmup after its start: a start that lasts long enough to be stopped in the middle. Its PID
// 1 (sh, then httpd) ignores SIGTERM, as the campaign's httpd does.
const (
	midApp  = "fault-mid"
	midName = "fault-mid-ui"
	midUnit = midName + ".service"
	// midWarmup is how long the companion takes to pass its first check.
	midWarmup = 5 * time.Second
)

func midSpec(rel string) companion.Spec {
	return companion.Spec{
		Name:        midName,
		Image:       goodImage,
		Command:     []string{"sh", "-c", fmt.Sprintf("sleep %d; exec httpd -f -p 13199 -h /www", int(midWarmup.Seconds()))},
		Env:         map[string]string{"RELEASE": rel},
		Ports:       []runtime.Port{{HostIP: "127.0.0.1", HostPort: 13199, ContainerPort: 13199}},
		Health:      health.Check{Exec: []string{"wget", "-q", "-O-", "http://127.0.0.1:13199/"}, Interval: 2 * time.Second, Timeout: time.Second},
		RestartSec:  time.Second,
		StopTimeout: time.Second,
	}
}

// unitState is the unit's "ActiveState/SubState".
func unitState(unit string) string {
	out, _ := userctl("show", "-p", "ActiveState", "-p", "SubState", "--value", unit)
	return strings.Join(strings.Fields(out), "/")
}

// startingOnConmon reports whether unit is in the middle of its start with conmon as its main
// process: podman told systemd MAINPID=conmon once the container started, and has not sent
// READY (for Notify=healthy: the first check has not passed). Before that, the main process
// is `podman run`, which a SIGTERM ends at once.
func startingOnConmon(unit string) bool {
	if unitState(unit) != "activating/start" {
		return false
	}
	pid, _ := userctl("show", "-p", "MainPID", "--value", unit)
	comm, _ := os.ReadFile("/proc/" + pid + "/comm")
	return strings.TrimSpace(string(comm)) == "conmon"
}

// waitStartingOnConmon polls until startingOnConmon(unit), for up to within.
func waitStartingOnConmon(t *testing.T, unit string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !startingOnConmon(unit) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never was starting on conmon (it is %s)\n%s", unit, unitState(unit), unitDiagnosis(unit))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCompanionStopMidStart reproduces, deterministically, the hang of fault campaign run
// f565db7/1795453881140969101: a Notify=healthy companion stopped while its start job waits
// for the first passing check. systemd skips ExecStop (podman rm -f, which honours
// StopTimeout) for a unit that is still starting: it sends SIGTERM to the main process, conmon,
// which forwards it to the container's PID 1, which ignores it; only the unit's stop timeout
// ends the stop. And a daemon SIGKILLed after it queued a companion's restart leaves exactly
// that unit: starting, with its restart sidecar, for the next daemon's pass.
func TestCompanionStopMidStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	units, err := systemd.New(ctx, systemd.User)
	if err != nil {
		t.Fatal(err)
	}
	defer units.Close()
	rt, err := podman.New(ctx, podman.DefaultSocket())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		userctl("kill", "-s", "KILL", midUnit)
		userctl("stop", midUnit)
		for _, f := range []string{"", ".skerry-restart", ".skerry-removed"} {
			os.Remove(filepath.Join(unitDir(), midName+".container"+f))
		}
		userctl("daemon-reload")
		userctl("reset-failed", midUnit)
		sh("podman", "rm", "-f", "-i", "-t", "0", midName)
		os.Remove(unitDir()) // when empty
	})
	manager := func(rel string) *companion.Manager {
		m, err := companion.New(units, rt, companion.Options{Dir: unitDir()})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Register(midApp, midSpec(rel)); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if err := manager("r1").Install(ctx, midApp); err != nil {
		t.Fatalf("install r1: %v\n%s", err, unitDiagnosis(midUnit))
	}

	// 1. A stop while the unit starts ends within the unit's own stop bound, not systemd's
	// default 90 s.
	if _, err := userctl("restart", "--no-block", midUnit); err != nil {
		t.Fatal(err)
	}
	waitStartingOnConmon(t, midUnit, 10*time.Second)
	began := time.Now()
	sctx, scancel := context.WithTimeout(ctx, 40*time.Second)
	err = units.Stop(sctx, midUnit)
	scancel()
	took := time.Since(began)
	t.Logf("stop while starting: %v after %v\n%s", err, took.Round(time.Millisecond), unitDiagnosis(midUnit))
	if err != nil {
		userctl("kill", "-s", "KILL", midUnit) // end a hung stop now
	}
	// The unit's own bound (StopTimeout + companion.StopGrace, 16 s), well below systemd's
	// default 90 s.
	if bound := 25 * time.Second; err != nil || took > bound {
		t.Errorf("a stop of the starting companion took %v (%v), want it within %v", took, err, bound)
	}

	// 2. The state a daemon SIGKILLed in the middle of a restart onto a new file leaves: the
	// new file, the sidecar, the restart job in its start (an Install whose wait is cut short
	// once the unit starts). The next daemon's pass must not stop it mid-start, and must not
	// wait for it: it returns at once, and a later pass finishes the restart.
	for deadline := time.Now().Add(30 * time.Second); strings.HasPrefix(unitState(midUnit), "deactivating/"); {
		if time.Now().After(deadline) {
			t.Fatalf("the stop never ended\n%s", unitDiagnosis(midUnit))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := manager("r1").Install(ctx, midApp); err != nil || unitState(midUnit) != "active/running" {
		t.Fatalf("install r1 again: %v, unit %s\n%s", err, unitState(midUnit), unitDiagnosis(midUnit))
	}
	ictx, icancel := context.WithCancel(ctx)
	go func() {
		defer icancel()
		deadline := time.Now().Add(20 * time.Second)
		for !startingOnConmon(midUnit) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}()
	err = manager("r2").Install(ictx, midApp)
	t.Logf("the killed daemon's install: %v", err)
	sidecar := filepath.Join(unitDir(), midName+".container.skerry-restart")
	if _, serr := os.Stat(sidecar); serr != nil || !startingOnConmon(midUnit) {
		t.Fatalf("not the state a killed daemon leaves: sidecar %v, unit %s", serr, unitState(midUnit))
	}
	next := manager("r2")
	began = time.Now()
	pctx, pcancel := context.WithTimeout(ctx, 60*time.Second)
	reps := next.Reconcile(pctx)
	pcancel()
	took = time.Since(began)
	t.Logf("the next daemon's first pass took %v: %+v\n%s", took.Round(time.Millisecond), reps, unitDiagnosis(midUnit))
	if took > 5*time.Second {
		t.Errorf("the next daemon's pass over a companion in the middle of a restart took %v, want < 5s", took)
	}
	deadline := time.Now().Add(45*time.Second + midWarmup)
	for {
		reps = next.Reconcile(ctx)
		_, serr := os.Stat(sidecar)
		if len(reps) == 1 && reps[0].Err == nil && reps[0].Status == companion.StatusActive && os.IsNotExist(serr) &&
			unitState(midUnit) == "active/running" && envOf(midName, "RELEASE") == "r2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restart onto r2 never finished: %+v, sidecar %v, release %q\n%s", reps, serr, envOf(midName, "RELEASE"), unitDiagnosis(midUnit))
		}
		time.Sleep(time.Second)
	}
}
