package skerry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/quadlet"
	"github.com/skerry-dev/skerry/runtime"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func statusApp(name string, check bool) App {
	a := App{App: orchestrator.App{Name: name, Container: runtime.ContainerSpec{Image: "localhost/" + name + ":1"}}}
	if check {
		a.Health = health.Check{Exec: []string{"check"}}
	}
	return a
}

// TestStatusFromReports is the table of what one app report does to an app's status.
func TestStatusFromReports(t *testing.T) {
	notReady := fmt.Errorf("bitcoind: %w", orchestrator.ErrNotReady)
	rolledBack := fmt.Errorf("bitcoind: upgrade failed: %w", runtime.ErrRolledBack)
	held := orchestrator.Rollback{FailedImage: "localhost/bitcoind:2", FailedHash: "f00", Image: "localhost/bitcoind:1", Hash: "ba5e"}
	base := AppStatus{Name: "bitcoind", Desired: true, Image: "localhost/bitcoind:1"}
	for _, tc := range []struct {
		name string
		rep  orchestrator.AppReport
		want func(*AppStatus)
	}{
		{"running and healthy", orchestrator.AppReport{Observed: runtime.StateRunning, Health: runtime.HealthHealthy, Reason: "running, healthy"},
			func(s *AppStatus) {
				s.State, s.Health, s.Reason = runtime.StateRunning, runtime.HealthHealthy, "running, healthy"
			}},
		{"a start that worked: running and healthy", orchestrator.AppReport{Observed: runtime.StateExited, Health: runtime.HealthUnknown, Action: orchestrator.ActionStart, Reason: "exited (exit code 1)"},
			func(s *AppStatus) {
				s.State, s.Health, s.Reason = runtime.StateRunning, runtime.HealthHealthy, "exited (exit code 1)"
				s.LastAction, s.LastActionAt, s.LastActionReason = orchestrator.ActionStart, t0, "exited (exit code 1)"
			}},
		{"a start that failed: as observed, with the error", orchestrator.AppReport{Observed: runtime.StateExited, Action: orchestrator.ActionStart, Reason: "exited (exit code 1)", Err: notReady},
			func(s *AppStatus) {
				s.State, s.Reason, s.Err, s.LastError, s.LastErrorAt = runtime.StateExited, "exited (exit code 1)", notReady, notReady, t0
				s.LastAction, s.LastActionAt, s.LastActionReason = orchestrator.ActionStart, t0, "exited (exit code 1)"
			}},
		{"waiting for a dependency", orchestrator.AppReport{Observed: runtime.StateMissing, Action: orchestrator.ActionWait, Reason: "waiting for lnd (exited)"},
			func(s *AppStatus) {
				s.State, s.Reason, s.WaitingFor = runtime.StateMissing, "waiting for lnd (exited)", "lnd (exited)"
			}},
		{"stopped with a failed dependency", orchestrator.AppReport{Observed: runtime.StateRunning, Action: orchestrator.ActionStop, Reason: "dependency failed: lnd (exited)"},
			func(s *AppStatus) {
				s.State, s.Reason, s.WaitingFor = runtime.StateExited, "dependency failed: lnd (exited)", "lnd (exited)"
				s.LastAction, s.LastActionAt, s.LastActionReason = orchestrator.ActionStop, t0, "dependency failed: lnd (exited)"
			}},
		{"crash-loop backoff", orchestrator.AppReport{Observed: runtime.StateExited, Action: orchestrator.ActionWait, Reason: "crash-loop backoff", NotBefore: t0.Add(time.Minute)},
			func(s *AppStatus) {
				s.State, s.Reason, s.BackoffUntil = runtime.StateExited, "crash-loop backoff", t0.Add(time.Minute)
			}},
		{"an upgrade rolled back", orchestrator.AppReport{Observed: runtime.StateRunning, Action: orchestrator.ActionRecreate, Reason: "spec drifted", Err: rolledBack, Rollback: &held},
			func(s *AppStatus) {
				s.State, s.Health, s.Reason, s.Err, s.LastError, s.LastErrorAt = runtime.StateRunning, runtime.HealthHealthy, "spec drifted", rolledBack, rolledBack, t0
				s.LastAction, s.LastActionAt, s.LastActionReason = orchestrator.ActionRecreate, t0, "spec drifted"
				s.Rollback, s.RolledBackAt = &held, t0
			}},
		{"held on the last good release", orchestrator.AppReport{Observed: runtime.StateRunning, Health: runtime.HealthHealthy, Reason: "held", Rollback: &held},
			func(s *AppStatus) {
				s.State, s.Health, s.Reason, s.Rollback, s.RolledBackAt = runtime.StateRunning, runtime.HealthHealthy, "held", &held, t0
			}},
		{"not reached: the state stays", orchestrator.AppReport{Reason: "not reached", Err: context.Canceled},
			func(s *AppStatus) {
				s.Reason, s.Err, s.LastError, s.LastErrorAt = "not reached", context.Canceled, context.Canceled, t0
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newStatusBook()
			b.want(statusApp("bitcoind", true))
			tc.rep.App = "bitcoind"
			b.record(Report{Source: SourceEvent, Start: t0, Apps: []orchestrator.AppReport{tc.rep}})
			want := base
			want.Image, want.ObservedAt = "localhost/bitcoind:1", t0
			tc.want(&want)
			got, _ := b.snapshot().App("bitcoind")
			if d := cmp.Diff(want, got, cmpopts.EquateErrors()); d != "" {
				t.Fatalf("status (-want +got):\n%s", d)
			}
		})
	}
}

func TestStatusLifecycleOfAnApp(t *testing.T) {
	b := newStatusBook()
	app := statusApp("bitcoind", false)
	app.Companions = []companion.Spec{{Name: "bitcoind-ui", Image: "localhost/ui:1"}}
	b.want(app)
	rolledBack := fmt.Errorf("x: %w", runtime.ErrRolledBack)
	held := &orchestrator.Rollback{FailedImage: "localhost/bitcoind:2", Image: "localhost/bitcoind:1"}
	b.record(Report{Source: SourcePass, Start: t0,
		Apps: []orchestrator.AppReport{{App: "bitcoind", Observed: runtime.StateMissing, Action: orchestrator.ActionCreate, Err: rolledBack, Rollback: held},
			{App: "ghost", Observed: runtime.StateExited, Reason: "orphan"}, {App: "stranger", Reason: "unknown app"}},
		Companions: []companion.UnitReport{{App: "bitcoind", Unit: "bitcoind-ui.service", Action: companion.ActionStarted, Status: companion.StatusActive,
			State: quadlet.UnitState{ActiveState: "inactive", SubState: "dead"}}}})
	st := b.snapshot()
	if names := appNames(st); !slices.Equal(names, []string{"bitcoind", "ghost"}) {
		t.Fatalf("apps %v: the orphan is shown, an unknown app is not", names)
	}
	if a, _ := st.App("bitcoind"); a.Health != runtime.HealthNone || a.Rollback == nil || len(a.Companions) != 1 ||
		a.Companions[0].Status != companion.StatusActive || a.Companions[0].LastAction != companion.ActionStarted || a.Companions[0].Image != "localhost/ui:1" {
		t.Fatalf("bitcoind %+v", a)
	}
	if st.LastPass != t0 || st.Converged {
		t.Fatalf("pass outcome %v %v", st.LastPass, st.Converged)
	}
	// A new release ends the rollback; its companions follow the spec.
	app.Container.Image = "localhost/bitcoind:2"
	app.Companions = nil
	b.want(app)
	if a, _ := b.snapshot().App("bitcoind"); a.Rollback != nil || a.Image != "localhost/bitcoind:2" || len(a.Companions) != 0 {
		t.Fatalf("after an update %+v", a)
	}
	// Uninstalled: shown until its removal is reported. The orphan went away by hand.
	b.unwant("bitcoind")
	if a, _ := b.snapshot().App("bitcoind"); a.Desired {
		t.Fatal("an app being uninstalled shows as desired")
	}
	b.record(Report{Source: SourceUninstall, Start: t0, Apps: []orchestrator.AppReport{{App: "bitcoind", Observed: runtime.StateRunning, Action: orchestrator.ActionRemove}}})
	b.record(Report{Source: SourcePass, Start: t0})
	if names := appNames(b.snapshot()); len(names) != 0 {
		t.Fatalf("apps %v after the removal and a pass without the orphan", names)
	}
}

func appNames(st Status) []string {
	var out []string
	for _, a := range st.Apps {
		out = append(out, a.Name)
	}
	return out
}

func TestSubscribersNeverStallTheSupervisor(t *testing.T) {
	b := newStatusBook()
	ctx, cancel := context.WithCancel(context.Background())
	slow := b.subscribe(ctx)
	if st := <-slow; len(st.Apps) != 0 {
		t.Fatalf("first status %+v, want the current (empty) one", st)
	}
	for i := range 100 { // the subscriber reads nothing meanwhile
		b.want(statusApp(fmt.Sprintf("app%03d", i), false))
	}
	if st := <-slow; len(st.Apps) != 100 {
		t.Fatalf("a slow subscriber got a status of %d apps, want the newest (100)", len(st.Apps))
	}
	select {
	case st := <-slow:
		t.Fatalf("a stale status is still queued: %d apps", len(st.Apps))
	default:
	}
	cancel()
	for range slow { // closed once ctx ended (a status published meanwhile may come first)
	}
}

// Whatever reports arrive, in any order, the status lists each app once, sorted, and shows
// every desired app as desired.
func TestStatusInvariants(t *testing.T) {
	names := []string{"bitcoind", "electrs", "lnd", "mempool"}
	rapid.Check(t, func(t *rapid.T) {
		b := newStatusBook()
		desired := map[string]bool{}
		t.Repeat(map[string]func(*rapid.T){
			"want": func(t *rapid.T) {
				n := rapid.SampledFrom(names).Draw(t, "app")
				b.want(statusApp(n, rapid.Bool().Draw(t, "check")))
				desired[n] = true
			},
			"unwant": func(t *rapid.T) {
				n := rapid.SampledFrom(names).Draw(t, "app")
				b.unwant(n)
				delete(desired, n)
			},
			"report": func(t *rapid.T) {
				var reps []orchestrator.AppReport
				for _, n := range rapid.SliceOfDistinct(rapid.SampledFrom(append(names, "ghost")), rapid.ID).Draw(t, "apps") {
					r := orchestrator.AppReport{App: n,
						Observed: runtime.State(rapid.IntRange(0, int(runtime.StateStopping)).Draw(t, "observed")),
						Action:   orchestrator.Action(rapid.IntRange(0, int(orchestrator.ActionConflict)).Draw(t, "action")),
						Reason:   rapid.SampledFrom([]string{"orphan", "waiting for lnd (exited)", "running"}).Draw(t, "reason")}
					if rapid.Bool().Draw(t, "fails") {
						r.Err = errors.New("boom")
					}
					reps = append(reps, r)
				}
				src := rapid.SampledFrom([]Source{SourcePass, SourceEvent, SourceInstall, SourceUninstall}).Draw(t, "source")
				b.record(Report{Source: src, Start: t0, Apps: reps})
			},
			"": func(t *rapid.T) {
				st := b.snapshot()
				if !slices.IsSortedFunc(st.Apps, func(a, b AppStatus) int { return strings.Compare(a.Name, b.Name) }) {
					t.Fatalf("apps not sorted: %v", appNames(st))
				}
				if n := len(slices.Compact(appNames(st))); n != len(st.Apps) {
					t.Fatalf("an app listed twice: %v", appNames(st))
				}
				for n := range desired {
					if a, ok := st.App(n); !ok || !a.Desired {
						t.Fatalf("desired app %s shows as %+v (present %v)", n, a, ok)
					}
				}
				for _, a := range st.Apps {
					if a.Desired != desired[a.Name] {
						t.Fatalf("%s shows Desired=%v", a.Name, a.Desired)
					}
				}
			},
		})
	})
}
