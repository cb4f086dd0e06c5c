package orchestrator_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/reconciler"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

// TestShutdownEndsEveryWait: when the context ends, every wait of the orchestrator ends with it:
// a pass's readiness wait (the report says interrupted, the container is left as it is, nothing
// is rolled back), WatchEvents' exit waits and check schedule, and its event-driven passes
// (within the reconciler's grace). synctest fails the test if any goroutine is left behind.
func TestShutdownEndsEveryWait(t *testing.T) {
	for _, scheduled := range []bool{false, true} {
		t.Run(map[bool]string{false: "engine checks", true: "scheduled checks"}[scheduled], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt, o := setup(orchestrator.Options{ScheduleExecChecks: scheduled})
				ctx, cancel := context.WithCancel(reconciler.WithShutdownGrace(context.Background(), 3*time.Second))
				slow := func(name string) orchestrator.App {
					a := newApp(name)
					if name != "bitcoind" { // bitcoind keeps its check: the schedule runs it
						// Readiness waits that outlast the test: without a check, an app is
						// ready once up for MinUptime.
						a.Health = health.Check{}
						a.MinUptime, a.ReadyTimeout = time.Hour, 2*time.Hour
					}
					return a
				}
				for _, name := range []string{"bitcoind", "lnd", "electrs"} {
					if err := o.Register(ctx, slow(name)); err != nil {
						t.Fatal(err)
					}
				}
				// bitcoind and lnd have proven themselves; electrs is still to come.
				for _, name := range []string{"bitcoind", "lnd"} {
					rt.CreateExternally(orchestrator.SpecOf(o, slow(name)), runtime.StateRunning)
				}
				watching := make(chan struct{})
				var reports []orchestrator.AppReport // WatchEvents' passes; read once it returned
				go func() {
					o.WatchEvents(ctx, rt, func(r orchestrator.AppReport) { reports = append(reports, r) })
					close(watching)
				}()
				passed := make(chan orchestrator.Report)
				go func() { passed <- o.ReconcileAll(ctx) }() // creates electrs, waits for it
				time.Sleep(time.Second)
				rt.KillExternally("lnd") // an event-driven pass restarts lnd and waits for it
				time.Sleep(time.Second)
				synctest.Wait()

				cancel()
				at := time.Now()
				rep := <-passed
				if d := time.Since(at); d != 0 {
					t.Errorf("the pass returned %v after the context ended", d)
				}
				var electrs orchestrator.AppReport
				for _, a := range rep.Apps {
					if a.App == "electrs" {
						electrs = a
					}
				}
				if !errors.Is(electrs.Err, orchestrator.ErrInterrupted) || errors.Is(electrs.Err, orchestrator.ErrNotReady) ||
					!strings.HasPrefix(electrs.Reason, "interrupted") || electrs.Rollback != nil {
					t.Fatalf("interrupted pass reports %v (%s)", electrs.Err, electrs.Reason)
				}
				<-watching
				if d := time.Since(at); d > 3*time.Second {
					t.Errorf("WatchEvents returned %v after the context ended, past its grace", d)
				}
				if len(reports) != 1 || reports[0].App != "lnd" || reports[0].Action != orchestrator.ActionStart ||
					!errors.Is(reports[0].Err, orchestrator.ErrInterrupted) || !errors.Is(reports[0].Err, reconciler.ErrShutdown) {
					t.Fatalf("event-driven passes: %v", reports)
				}
				// Left as they were: running, not removed, not rolled back.
				for _, name := range []string{"electrs", "lnd"} {
					if _, obs, _ := rt.Container(name); obs.State != runtime.StateRunning {
						t.Errorf("%s left %v", name, obs.State)
					}
				}
			})
		})
	}
}

// A pass whose context ends midway says so for every app it did not finish: its report is never
// taken for converged.
func TestPassCutShortIsNotConverged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{Workers: 1})
		for _, name := range []string{"a", "b", "c"} {
			if err := o.Register(context.Background(), newApp(name)); err != nil {
				t.Fatal(err)
			}
		}
		rt.Hang(fake.OpCreate, true)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		rep := o.ReconcileAll(ctx)
		if rep.Converged() || rep.Err != nil || len(rep.Apps) != 3 {
			t.Fatalf("pass cut short: %v", rep)
		}
		for _, a := range rep.Apps {
			if !errors.Is(a.Err, orchestrator.ErrInterrupted) || !errors.Is(a.Err, context.DeadlineExceeded) || !strings.Contains(a.Reason, "interrupted") {
				t.Errorf("%s: %v (%s)", a.App, a.Err, a.Reason)
			}
		}
	})
}
