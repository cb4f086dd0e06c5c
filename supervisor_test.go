package skerry_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/skerry-dev/skerry"
	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/orchestrator"
	qfake "github.com/skerry-dev/skerry/quadlet/fake"
	"github.com/skerry-dev/skerry/runtime"
	rfake "github.com/skerry-dev/skerry/runtime/fake"
)

var (
	_     skerry.UnitWatcher = (*qfake.Manager)(nil)
	quiet                    = slog.New(slog.NewTextHandler(io.Discard, nil))
)

const (
	appImage = "localhost/busybox:1"
	uiImage  = "localhost/btc-ui:1"
	uiUnit   = "bitcoind-ui.service"
)

// node is a supervisor over fakes, with every report it delivered.
type node struct {
	rt    *rfake.Runtime
	units *qfake.Manager
	sup   *skerry.Supervisor

	mu      sync.Mutex
	reports []skerry.Report
}

// demoApps returns bitcoind (exec check, a companion UI) and lnd (waits for a healthy bitcoind).
func demoApps() []skerry.App {
	app := func(name string) orchestrator.App {
		return orchestrator.App{Name: name, Container: runtime.ContainerSpec{Image: appImage, Command: []string{name}},
			Health: health.Check{Exec: []string{"check"}}}
	}
	lnd := app("lnd")
	lnd.DependsOn = []orchestrator.Dependency{{App: "bitcoind"}}
	return []skerry.App{
		{App: app("bitcoind"), Companions: []companion.Spec{{Name: "bitcoind-ui", Image: uiImage}}},
		{App: lnd},
	}
}

func newNode(t *testing.T, opts skerry.Options, apps ...skerry.App) *node {
	t.Helper()
	dir := t.TempDir()
	n := &node{rt: rfake.New(), units: qfake.New(dir)}
	n.rt.AddImage(appImage, uiImage)
	opts.Logger, opts.Companions.Dir = quiet, dir
	opts.OnReport = func(r skerry.Report) {
		n.mu.Lock()
		n.reports = append(n.reports, r)
		n.mu.Unlock()
	}
	sup, err := skerry.New(n.rt, n.units, opts, apps...)
	if err != nil {
		t.Fatal(err)
	}
	n.sup = sup
	return n
}

// start runs the supervisor until the returned stop is called (at the latest when the test
// ends); stop returns Run's error and how long Run took to return after the cancel.
func (n *node) start(t *testing.T) (stop func() (error, time.Duration)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.sup.Run(ctx) }()
	var once sync.Once
	var err error
	var took time.Duration
	stop = func() (error, time.Duration) {
		once.Do(func() {
			cancel()
			at := time.Now()
			err = <-done
			took = time.Since(at)
		})
		return err, took
	}
	t.Cleanup(func() { stop() })
	return stop
}

// taken returns the reports delivered since the last call.
func (n *node) taken() []skerry.Report {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.reports
	n.reports = nil
	return r
}

func TestFirstPassBringsUpAppsAndCompanionsInOneReport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNode(t, skerry.Options{}, demoApps()...)
		stop := n.start(t)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		passes := bySource(n.taken(), skerry.SourcePass)
		if len(passes) != 1 {
			t.Fatalf("passes %v, want one", passes)
		}
		if got, want := passes[0].String(), "converged=true bitcoind=missing/unknown->create lnd=missing/unknown->create "+uiUnit+"=active->none"; got != want {
			t.Fatalf("first pass\n got %s\nwant %s", got, want)
		}
		// The next periodic pass, 30 s after the first ended, finds nothing to do.
		time.Sleep(skerry.DefaultInterval)
		synctest.Wait()
		if reps := n.taken(); len(reps) != 1 || reps[0].Source != skerry.SourcePass || reps[0].Acted() != 0 || !reps[0].Converged() {
			t.Fatalf("then %v, want one pass, converged without action", reps)
		}
		if err, _ := stop(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
		if got := n.units.Active(); len(got) != 1 || got[0] != uiUnit {
			t.Fatalf("active units %v after Run returned: companions must be left running", got)
		}
		if got := n.rt.Names(); len(got) != 2 {
			t.Fatalf("containers %v after Run returned: apps must be left running", got)
		}
	})
}

// bySource returns the reports of source.
func bySource(reps []skerry.Report, source skerry.Source) []skerry.Report {
	var out []skerry.Report
	for _, r := range reps {
		if r.Source == source {
			out = append(out, r)
		}
	}
	return out
}

func TestExecChecksAreScheduledByDefault(t *testing.T) {
	for _, engine := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			n := newNode(t, skerry.Options{EngineExecChecks: engine}, demoApps()...)
			stop := n.start(t)
			time.Sleep(time.Minute)
			synctest.Wait()
			spec, _, _ := n.rt.Container("bitcoind")
			if spec.HealthCheck == nil || (spec.HealthCheck.Interval == 0) == engine {
				t.Fatalf("EngineExecChecks=%v: container check %+v", engine, spec.HealthCheck)
			}
			checks := n.rt.Calls(rfake.OpRunHealthCheck)
			time.Sleep(5 * time.Minute) // default Health.Interval is 30 s
			synctest.Wait()
			if ran := n.rt.Calls(rfake.OpRunHealthCheck) - checks; (ran >= 10) == engine {
				t.Fatalf("EngineExecChecks=%v: the supervisor ran %d checks in 5 min", engine, ran)
			}
			stop()
		})
	}
}

func TestEventsExitsAndUnitChangesGetReportedPasses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNode(t, skerry.Options{}, demoApps()...)
		stop := n.start(t)
		time.Sleep(time.Minute)
		synctest.Wait()
		n.taken()

		n.rt.KillExternally("lnd") // the exit wait sees it at once
		time.Sleep(10 * time.Second)
		synctest.Wait()
		reps := n.taken()
		if len(reps) == 0 || reps[0].Source != skerry.SourceEvent || reps[0].Apps[0].Action != orchestrator.ActionStart {
			t.Fatalf("after a kill: %v, want an event pass that starts lnd", reps)
		}

		n.units.StopExternally(uiUnit) // systemctl --user stop
		time.Sleep(time.Second)
		synctest.Wait()
		// Its pass starts it; the start is a change too, whose pass finds nothing to do.
		reps = n.taken()
		if len(reps) != 2 || reps[0].Source != skerry.SourceUnit || reps[0].Companions[0].Action != "started" || reps[1].Acted() != 0 {
			t.Fatalf("after a unit stop: %v, want a unit pass that starts it", reps)
		}
		if st, _ := n.sup.Status().App("bitcoind"); st.Companions[0].LastAction != companion.ActionStarted || st.Companions[0].Status != companion.StatusActive {
			t.Fatalf("companion status %+v", st.Companions)
		}
		stop()
	})
}

func TestRunTwiceAtOnceIsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNode(t, skerry.Options{})
		stop := n.start(t)
		synctest.Wait()
		if err := n.sup.Run(context.Background()); !errors.Is(err, skerry.ErrRunning) {
			t.Fatalf("second Run: %v", err)
		}
		stop()
		stop = n.start(t) // again, after it returned
		synctest.Wait()
		stop()
	})
}

func TestNewRefusesBadInputBeforeAnySideEffect(t *testing.T) {
	bad := demoApps()
	bad[1].DependsOn = []orchestrator.Dependency{{App: "electrs"}}
	for _, tc := range []struct {
		name  string
		units bool
		opts  skerry.Options
		apps  []skerry.App
		want  error
	}{
		{"negative interval", true, skerry.Options{Interval: -time.Second}, nil, runtime.ErrInvalidSpec},
		{"negative shutdown timeout", true, skerry.Options{ShutdownTimeout: -1}, nil, runtime.ErrInvalidSpec},
		{"unknown dependency", true, skerry.Options{}, bad, runtime.ErrInvalidSpec},
		{"bad companion", true, skerry.Options{}, []skerry.App{{App: demoApps()[0].App, Companions: []companion.Spec{{Name: "UI"}}}}, runtime.ErrInvalidSpec},
		{"companions without a unit manager", false, skerry.Options{}, demoApps(), skerry.ErrNoUnitManager},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := rfake.New()
			var units companion.Units
			if tc.units {
				units = qfake.New(t.TempDir())
			}
			tc.opts.Logger, tc.opts.Companions.Dir = quiet, t.TempDir()
			_, err := skerry.New(rt, units, tc.opts, tc.apps...)
			if !errors.Is(err, tc.want) || !errors.Is(err, runtime.ErrInvalidSpec) {
				t.Fatalf("New: %v, want %v (and so runtime.ErrInvalidSpec)", err, tc.want)
			}
			if rt.TotalCalls() != 0 {
				t.Fatalf("%d runtime calls before the error", rt.TotalCalls())
			}
		})
	}
}

func TestInstallAndUninstallAtRuntime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNode(t, skerry.Options{}, demoApps()...)
		stop := n.start(t)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		n.taken()

		electrs := skerry.App{App: orchestrator.App{Name: "electrs", Container: runtime.ContainerSpec{Image: appImage},
			DependsOn: []orchestrator.Dependency{{App: "bitcoind"}}},
			Companions: []companion.Spec{{Name: "electrs-ui", Image: uiImage}}}
		rep, err := n.sup.Install(context.Background(), electrs)
		if err != nil || rep.Source != skerry.SourceInstall || !rep.Converged() || len(rep.Companions) != 1 {
			t.Fatalf("Install: %v, %v", rep, err)
		}
		st, ok := n.sup.Status().App("electrs")
		if !ok || st.State != runtime.StateRunning || st.Health != runtime.HealthNone || st.LastAction != orchestrator.ActionCreate ||
			len(st.Companions) != 1 || st.Companions[0].Status != companion.StatusActive {
			t.Fatalf("electrs' status after Install: %+v", st)
		}
		if got := len(n.sup.Apps()); got != 3 {
			t.Fatalf("%d apps, want 3", got)
		}

		rep, err = n.sup.Uninstall(context.Background(), "electrs", orchestrator.UninstallOptions{})
		if err != nil || rep.Source != skerry.SourceUninstall || rep.Apps[0].Action != orchestrator.ActionRemove {
			t.Fatalf("Uninstall: %v, %v", rep, err)
		}
		if _, ok := n.sup.Status().App("electrs"); ok || len(n.units.Active()) != 1 || len(n.sup.Apps()) != 2 {
			t.Fatalf("after Uninstall: status %+v, active units %v", n.sup.Status().Apps, n.units.Active())
		}
		creates := n.rt.Calls(rfake.OpCreate)
		bad := electrs
		bad.DependsOn = []orchestrator.Dependency{{App: "mempool"}}
		if _, err := n.sup.Install(context.Background(), bad); !errors.Is(err, runtime.ErrInvalidSpec) || n.rt.Calls(rfake.OpCreate) != creates {
			t.Fatalf("Install with an unknown dependency: %v", err)
		}
		if _, ok := n.sup.Status().App("electrs"); ok {
			t.Fatal("a refused Install shows in the status")
		}
		stop()
	})
}

func TestPeriodicOnlyWatchesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNode(t, skerry.Options{PeriodicOnly: true}, demoApps()...)
		n.start(t)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		n.taken()
		if spec, _, _ := n.rt.Container("bitcoind"); spec.HealthCheck == nil || spec.HealthCheck.Interval == 0 {
			t.Fatalf("the engine must run the checks: %+v", spec.HealthCheck)
		}
		n.rt.KillExternally("lnd")
		n.units.StopExternally(uiUnit)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if reps := n.taken(); len(reps) != 0 {
			t.Fatalf("reports %v before the next periodic pass", reps)
		}
		time.Sleep(skerry.DefaultInterval)
		synctest.Wait()
		if reps := n.taken(); len(reps) != 1 || reps[0].Acted() != 2 {
			t.Fatalf("reports %v, want one periodic pass that starts lnd and the UI", reps)
		}
	})
}

// An OnReport that acts on the supervisor (an app store reacting to a pass) must not deadlock.
func TestOnReportMayCallTheSupervisor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sup *skerry.Supervisor
		var sources []skerry.Source
		opts := skerry.Options{Logger: quiet, Companions: companion.Options{Dir: t.TempDir()},
			OnReport: func(r skerry.Report) {
				sources = append(sources, r.Source)
				if len(sources) == 1 {
					if _, err := sup.Uninstall(context.Background(), "lnd", orchestrator.UninstallOptions{}); err != nil {
						t.Errorf("Uninstall from OnReport: %v", err)
					}
					if len(sources) != 1 {
						t.Error("a report was delivered while OnReport ran")
					}
				}
			}}
		rt := rfake.New()
		rt.AddImage(appImage, uiImage)
		var err error
		if sup, err = skerry.New(rt, nil, opts, skerry.App{App: demoApps()[0].App}, demoApps()[1]); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- sup.Run(ctx) }()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		cancel()
		<-done
		// Event passes (the first pass's own starts) may be delivered at any point in between.
		passes := slices.DeleteFunc(slices.Clone(sources), func(s skerry.Source) bool { return s == skerry.SourceEvent })
		if len(passes) < 2 || passes[0] != skerry.SourcePass || passes[1] != skerry.SourceUninstall {
			t.Fatalf("reports from %v, want the pass, then the uninstall", sources)
		}
		if names := rt.Names(); len(names) != 1 || names[0] != "bitcoind" {
			t.Fatalf("containers %v", names)
		}
	})
}

func TestTriggerRunsAPassAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNode(t, skerry.Options{PeriodicOnly: true}, demoApps()...)
		n.start(t)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		n.taken()
		n.rt.KillExternally("lnd")
		n.sup.Trigger()
		time.Sleep(5 * time.Second) // the start's readiness wait, well before the 30 s interval
		synctest.Wait()
		if reps := n.taken(); len(reps) != 1 || reps[0].Source != skerry.SourcePass || reps[0].Apps[1].Action != orchestrator.ActionStart {
			t.Fatalf("reports %v, want a pass that starts lnd at once", reps)
		}
	})
}
