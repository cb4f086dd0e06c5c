//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package e2e_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
)

// TestRollbackSurvivesRestartsOnPodman: each step runs in a fresh orchestrator, as a daemon
// restarted with a new config would. A release whose image does not exist touches nothing; a
// release that starts but fails its check is rolled back onto the very container that ran;
// and a daemon restarted with the failed release still in its config holds the app on the
// last good release instead of trying it again.
func TestRollbackSurvivesRestartsOnPodman(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	a := app(uniq("rollback"))
	n.install(t, a)
	podmanCLI(t, "exec", a.Name, "sh", "-c", "echo keep > /data/state")
	before := n.mustBeHealthy(t, a.Name)
	restarted := func(desired orchestrator.App) *orchestrator.Orchestrator {
		o := orchestrator.New(n.rt, orchestrator.Options{Logger: logger, Companions: n.comps})
		if err := o.RegisterAll(ctx, desired); err != nil {
			t.Fatal(err)
		}
		return o
	}
	// unchanged: the container that ran before runs (restarted, after a rollback), data intact.
	unchanged := func(step string) {
		t.Helper()
		if o := n.mustBeHealthy(t, a.Name); o.ID != before.ID {
			t.Fatalf("%s: the working container was replaced: %s -> %s", step, before.ID, o.ID)
		}
		if got := podmanCLI(t, "exec", a.Name, "cat", "/data/state"); got != "keep" {
			t.Fatalf("%s: data %q", step, got)
		}
	}

	missing := a
	missing.Container.Image = "localhost/busybox:does-not-exist"
	rep := restarted(missing).ReconcileAll(ctx)
	if err := appReport(t, rep, a.Name).Err; !errors.Is(err, runtime.ErrImageNotFound) || !strings.Contains(err.Error(), missing.Container.Image) {
		t.Fatalf("missing image: %v", rep)
	}
	unchanged("missing image")
	if o := n.obs(t, a.Name); !o.StartedAt.Equal(before.StartedAt) {
		t.Fatal("missing image: the working container was restarted")
	}
	if got := n.containersOf(t, a.Name); got != 1 {
		t.Fatalf("missing image: %d containers of the app", got)
	}

	failing := a // starts, serves nothing: its check fails
	failing.Container.Command = []string{"sleep", "1000"}
	rep = restarted(failing).ReconcileAll(ctx)
	if r := appReport(t, rep, a.Name); !errors.Is(r.Err, orchestrator.ErrRolledBack) || !errors.Is(r.Err, orchestrator.ErrNotReady) || r.Rollback == nil {
		t.Fatalf("failing release: %v", rep)
	}
	unchanged("failing release")
	if st := podmanCLI(t, "inspect", "-f", "{{.State.Status}}", a.Name+".FAILED"); st != "exited" && st != "stopped" {
		t.Fatalf("the failed release's record is %s", st)
	}

	for i := range 2 {
		o := restarted(failing)
		rep = o.ReconcileAll(ctx)
		if r := appReport(t, rep, a.Name); r.Action != orchestrator.ActionNone || !r.OK() || r.Rollback == nil || !strings.Contains(r.Reason, "rolled back from") {
			t.Fatalf("restart %d with the failed release desired: %v", i, rep)
		}
		if r, held := o.Held(a.Name); !held || r.Hash != before.SpecHash() {
			t.Fatalf("restart %d: held=%v %+v", i, held, r)
		}
		unchanged("held")
	}

	// A new desired spec releases the hold: the record goes, the app moves on.
	next := a
	next.Container.Env = map[string]string{"MODE": "two"}
	if r := appReport(t, restarted(next).ReconcileAll(ctx), a.Name); !r.OK() || r.Rollback != nil {
		t.Fatalf("new spec: %v", rep)
	}
	if got := n.containersOf(t, a.Name); got != 1 {
		t.Fatalf("after the new spec: %d containers of the app", got)
	}
	if got := podmanCLI(t, "exec", a.Name, "cat", "/data/state"); got != "keep" {
		t.Fatalf("data after the upgrade: %q", got)
	}
}

// TestInterruptedUpgradeIsFinishedOnPodman: a daemon stopped while the new release is coming up
// leaves the previous one as <app>.PREV; a restarted daemon finishes the upgrade: it commits a
// release that comes up, and rolls back onto the previous container one that does not.
func TestInterruptedUpgradeIsFinishedOnPodman(t *testing.T) {
	for _, tc := range []struct {
		name    string
		command []string
		commits bool
	}{
		{"good release", nil, true},
		{"failing release", []string{"sleep", "1000"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t)
			a := app(uniq("interrupted"))
			n.install(t, a)
			podmanCLI(t, "exec", a.Name, "sh", "-c", "echo keep > /data/state")
			before := n.mustBeHealthy(t, a.Name)
			next := a
			next.Container.Env = map[string]string{"MODE": "two"}
			next.MinUptime = 5 * time.Second // a readiness wait of 5 s at least
			if tc.command != nil {
				next.Container.Command = tc.command
				next.Health.StartPeriod = 5 * time.Second // failures count after 5 s
			}
			// The old container's stop takes 1 s (StopTimeout), the new one starts within a
			// second more: 3 s is inside the readiness wait.
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			stopped := orchestrator.New(n.rt, orchestrator.Options{Logger: logger, Companions: n.comps})
			if _, err := stopped.Install(ctx, next); !errors.Is(err, orchestrator.ErrInterrupted) || errors.Is(err, orchestrator.ErrRolledBack) {
				t.Fatalf("interrupted upgrade: %v", err)
			}
			if st := podmanCLI(t, "inspect", "-f", "{{.State.Status}}", a.Name+".PREV"); st != "exited" && st != "stopped" {
				t.Fatalf("the previous release is %s", st)
			}

			o := orchestrator.New(n.rt, orchestrator.Options{Logger: logger, Companions: n.comps})
			if err := o.RegisterAll(context.Background(), next); err != nil {
				t.Fatal(err)
			}
			rep := o.ReconcileAll(context.Background())
			if err := appReport(t, rep, a.Name).Err; tc.commits != (err == nil) || (!tc.commits && !errors.Is(err, orchestrator.ErrRolledBack)) {
				t.Fatalf("the pass after the interruption: %v", rep)
			}
			after := n.mustBeHealthy(t, a.Name)
			if got := podmanCLI(t, "exec", a.Name, "sh", "-c", "echo $MODE"); (got == "two") != tc.commits {
				t.Fatalf("runs MODE=%s, committed=%v", got, tc.commits)
			}
			if !tc.commits && after.ID != before.ID {
				t.Fatalf("rolled back onto another container: %s -> %s", before.ID, after.ID)
			}
			if got := podmanCLI(t, "exec", a.Name, "cat", "/data/state"); got != "keep" {
				t.Fatalf("data: %q", got)
			}
			if _, err := n.rt.Inspect(context.Background(), a.Name+".PREV"); !errors.Is(err, runtime.ErrNotFound) {
				t.Fatalf("%s.PREV left: %v", a.Name, err)
			}
		})
	}
}

// appReport returns the entry of app in a pass's report (the node may hold other tests' apps).
func appReport(t *testing.T, rep orchestrator.Report, app string) orchestrator.AppReport {
	t.Helper()
	for _, r := range rep.Apps {
		if r.App == app {
			return r
		}
	}
	t.Fatalf("no report of %s: %v", app, rep)
	return orchestrator.AppReport{}
}
