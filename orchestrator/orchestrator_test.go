package orchestrator_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/hooks"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

const image = "localhost/busybox:latest"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newApp(name string) orchestrator.App {
	return orchestrator.App{
		Name: name,
		Container: runtime.ContainerSpec{
			Image:   image,
			Command: []string{"httpd", "-f", "-p", "8080"},
			Env:     map[string]string{"RPC_PASSWORD": "hunter2"},
			Mounts:  []runtime.Mount{{Type: runtime.MountVolume, Source: name + "-data", Target: "/data"}},
		},
		Health: health.Check{Exec: []string{"wget", "-q", "-O-", "http://127.0.0.1:8080/"}},
	}
}

func setup(opts orchestrator.Options) (*fake.Runtime, *orchestrator.Orchestrator) {
	rt := fake.New()
	rt.AddImage(image)
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	return rt, orchestrator.New(rt, opts)
}

func assertRunningHealthy(t *testing.T, rt *fake.Runtime, name string) runtime.Observation {
	t.Helper()
	_, obs, ok := rt.Container(name)
	if !ok || obs.State != runtime.StateRunning || obs.Health != runtime.HealthHealthy {
		t.Fatalf("%s: %v/%v (exists=%v), want running/healthy; engine: %s", name, obs.State, obs.Health, ok, rt)
	}
	return obs
}

func TestInstallIsIdempotent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		rep, err := o.Install(ctx, newApp("bitcoind"))
		if err != nil || rep.Action != orchestrator.ActionCreate {
			t.Fatalf("first install: %v %v", rep, err)
		}
		first := assertRunningHealthy(t, rt, "bitcoind")
		rep, err = o.Install(ctx, newApp("bitcoind"))
		if err != nil || rep.Action != orchestrator.ActionNone {
			t.Fatalf("second install: %v %v", rep, err)
		}
		if second := assertRunningHealthy(t, rt, "bitcoind"); second.ID != first.ID || !second.StartedAt.Equal(first.StartedAt) {
			t.Fatal("second install touched a healthy container")
		}
		if got := rt.Names(); !slices.Equal(got, []string{"bitcoind"}) {
			t.Fatalf("containers = %v", got)
		}
		if rt.Calls(fake.OpCreate) != 1 || rt.Calls(fake.OpStart) != 1 {
			t.Fatalf("create=%d start=%d, want 1 each", rt.Calls(fake.OpCreate), rt.Calls(fake.OpStart))
		}
		// The wait for readiness ran the check once and looked no more: it passed at once (so
		// the container runs), and a fresh start is ready at its first passing check.
		if rt.Calls(fake.OpRunHealthCheck) != 1 || rt.Calls(fake.OpInspect) != 2 {
			t.Fatalf("healthcheck=%d inspect=%d, want 1 and 2 (one observation per install, none while waiting)",
				rt.Calls(fake.OpRunHealthCheck), rt.Calls(fake.OpInspect))
		}
	})
}

// TestInstallOverExistingContainer: whatever state a container of the app's name is in,
// Install ends with exactly one running, healthy container.
func TestInstallOverExistingContainer(t *testing.T) {
	for _, st := range []runtime.State{runtime.StateRunning, runtime.StateStopped, runtime.StateExited, runtime.StateCreated,
		runtime.StatePaused, runtime.StateUnknown, runtime.StateRemoving, runtime.StateStopping} {
		t.Run(st.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt, o := setup(orchestrator.Options{})
				app := newApp("electrs")
				rt.CreateExternally(app.ContainerSpec(), st)
				if _, err := o.Install(context.Background(), app); err != nil {
					t.Fatal(err)
				}
				assertRunningHealthy(t, rt, "electrs")
				if got := rt.Names(); len(got) != 1 {
					t.Fatalf("containers = %v", got)
				}
			})
		})
	}
}

func TestInstallReportsDyingAppAsFailed(t *testing.T) {
	// An app with a check is ready once it passed (see TestInstallOfACheckedAppThatDiesLater):
	// here it dies before.
	for _, tc := range []struct {
		name      string
		check     health.Check
		unhealthy bool
	}{
		{"dies in its check's start period", health.Check{Exec: []string{"true"}, StartPeriod: 10 * time.Second}, true},
		{"no check", health.Check{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt, o := setup(orchestrator.Options{})
				app := newApp("lnd")
				app.Health = tc.check
				rt.SetBehaviour("lnd", fake.Behaviour{DieAfter: 1500 * time.Millisecond, ExitCode: 2, Unhealthy: tc.unhealthy})
				rep, err := o.Install(context.Background(), app)
				if !errors.Is(err, orchestrator.ErrNotReady) || !strings.Contains(err.Error(), "exit code 2") {
					t.Fatalf("err = %v, want ErrNotReady with the exit code", err)
				}
				if len(rep.Logs) == 0 {
					t.Fatal("failed report carries no log tail")
				}
			})
		})
	}
}

func TestInstallUnhealthyAndStuck(t *testing.T) {
	for name, b := range map[string]fake.Behaviour{
		"unhealthy":     {Unhealthy: true},
		"stuck created": {StuckCreated: true},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt, o := setup(orchestrator.Options{})
				rt.SetBehaviour("mempool", b)
				_, err := o.Install(context.Background(), newApp("mempool"))
				if !errors.Is(err, orchestrator.ErrNotReady) {
					t.Fatalf("err = %v, want ErrNotReady", err)
				}
			})
		})
	}
}

func TestInstallValidatesBeforeAnySideEffect(t *testing.T) {
	rt, o := setup(orchestrator.Options{})
	app := newApp("Bad Name")
	app.Container.Ports = []runtime.Port{{HostPort: 0, ContainerPort: 80}}
	app.Container.Mounts = append(app.Container.Mounts, runtime.Mount{Type: runtime.MountBind, Source: "/srv/../etc", Target: "/x"})
	_, err := o.Install(context.Background(), app)
	var verr *runtime.ValidationError
	if !errors.Is(err, runtime.ErrInvalidSpec) || !errors.As(err, &verr) || len(verr.Problems) != 4 {
		t.Fatalf("err = %v, want a ValidationError with 4 problems (name, port, volume name, bind path)", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatal("error leaks a secret")
	}
	if rt.TotalCalls() != 0 {
		t.Fatalf("%d runtime calls before validation failed", rt.TotalCalls())
	}
}

func TestNoopPassMakesOneRuntimeCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		for i := range 25 {
			if _, err := o.Install(ctx, newApp(fmt.Sprintf("app%02d", i))); err != nil {
				t.Fatal(err)
			}
		}
		o.ReconcileAll(ctx) // the first pass also looks for networks left to remove
		rt.ResetCalls()
		rep := o.ReconcileAll(ctx)
		if !rep.Converged() || rep.Acted() != 0 || len(rep.Apps) != 25 {
			t.Fatalf("pass: %v", rep)
		}
		if rt.TotalCalls() != 1 || rt.Calls(fake.OpList) != 1 {
			t.Fatalf("no-op pass made %d runtime calls, want exactly 1 list", rt.TotalCalls())
		}
	})
}

func TestPassRecoversTamperedApps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		for _, n := range []string{"a", "b", "c", "d", "e"} {
			if _, err := o.Install(ctx, newApp(n)); err != nil {
				t.Fatal(err)
			}
		}
		rt.KillExternally("a")
		rt.RemoveExternally("b")
		rt.PauseExternally("c")
		rt.SetHealth("d", runtime.HealthUnhealthy)
		rt.SetState("e", runtime.StateRemoving)
		rep := o.ReconcileAll(ctx)
		want := map[string]orchestrator.Action{"a": orchestrator.ActionStart, "b": orchestrator.ActionCreate,
			"c": orchestrator.ActionRecreate, "d": orchestrator.ActionRestart, "e": orchestrator.ActionRecreate}
		for _, a := range rep.Apps {
			if a.Action != want[a.App] || a.Err != nil {
				t.Errorf("%v, want %s", a, want[a.App])
			}
		}
		for n := range want {
			assertRunningHealthy(t, rt, n)
		}
		if !slices.Equal(rt.Volumes(), []string{"a-data", "b-data", "c-data", "d-data", "e-data"}) {
			t.Fatalf("volumes = %v", rt.Volumes())
		}
	})
}

func TestCrashLoopBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		if _, err := o.Install(ctx, newApp("lnd")); err != nil {
			t.Fatal(err)
		}
		rt.SetBehaviour("lnd", fake.Behaviour{DieAfter: 3 * time.Second})
		rt.KillExternally("lnd")
		// Retry 1 is immediate; each later retry waits 10 s, 20 s, 40 s ... after the previous.
		var starts []time.Duration
		begin := time.Now()
		for range 40 {
			rep := o.ReconcileAll(ctx)
			if rep.Apps[0].Action == orchestrator.ActionStart {
				starts = append(starts, time.Since(begin).Round(time.Second))
			}
			time.Sleep(5 * time.Second)
		}
		// Each start is followed by a 3 s death, then 5 s sleeps.
		if len(starts) < 4 {
			t.Fatalf("starts at %v", starts)
		}
		for i := 2; i < len(starts); i++ {
			if gap, prev := starts[i]-starts[i-1], starts[i-1]-starts[i-2]; gap < prev {
				t.Fatalf("backoff did not grow: starts at %v", starts)
			}
		}
		if starts[1]-starts[0] < orchestrator.BackoffInitial {
			t.Fatalf("second retry after %v, want >= %v: %v", starts[1]-starts[0], orchestrator.BackoffInitial, starts)
		}
	})
}

func TestDriftRecreates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		app := newApp("btcpay")
		if _, err := o.Install(ctx, app); err != nil {
			t.Fatal(err)
		}
		_, before, _ := rt.Container("btcpay")
		app.Container.Env = map[string]string{"RPC_PASSWORD": "rotated"}
		if err := o.Register(ctx, app); err != nil {
			t.Fatal(err)
		}
		rep := o.ReconcileAll(ctx)
		if rep.Apps[0].Action != orchestrator.ActionRecreate || rep.Apps[0].Err != nil {
			t.Fatalf("%v", rep)
		}
		spec, after, _ := rt.Container("btcpay")
		if after.ID == before.ID || spec.Env["RPC_PASSWORD"] != "rotated" {
			t.Fatal("drifted container was not recreated with the new spec")
		}
		if strings.Contains(rep.String(), "rotated") {
			t.Fatal("report leaks an env value")
		}
	})
}

func TestHookChangeRestartsRunningApp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		changed := false
		app := newApp("nginx-ui")
		app.Hooks = []hooks.Hook{hooks.Func(func(context.Context) (bool, error) { return changed, nil })}
		if _, err := o.Install(ctx, app); err != nil {
			t.Fatal(err)
		}
		if rep := o.ReconcileAll(ctx); rep.Acted() != 0 {
			t.Fatalf("unchanged hook acted: %v", rep)
		}
		changed = true
		rep := o.ReconcileAll(ctx)
		if rep.Apps[0].Action != orchestrator.ActionRestart || rt.Calls(fake.OpStop) != 1 {
			t.Fatalf("%v; stops=%d", rep, rt.Calls(fake.OpStop))
		}
		assertRunningHealthy(t, rt, "nginx-ui")
	})
}

func TestPerAppFailuresNeverAbortThePass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		panicky := newApp("panicky")
		panicky.Hooks = []hooks.Hook{hooks.Func(func(context.Context) (bool, error) { panic("hook bug") })}
		failing := newApp("failing")
		failing.Container.Image = "localhost/absent:1"
		for _, a := range []orchestrator.App{panicky, failing, newApp("fine")} {
			o.Register(ctx, a)
		}
		rep := o.ReconcileAll(ctx)
		got := map[string]error{}
		for _, a := range rep.Apps {
			got[a.App] = a.Err
		}
		if got["panicky"] == nil || !errors.Is(got["failing"], runtime.ErrImageNotFound) || got["fine"] != nil {
			t.Fatalf("%v", rep)
		}
		assertRunningHealthy(t, rt, "fine")
	})
}

func TestListFailureReportsPassError(t *testing.T) {
	rt, o := setup(orchestrator.Options{})
	rt.FailNth(fake.OpList, 1, runtime.ErrUnavailable)
	rep := o.ReconcileAll(context.Background())
	if !errors.Is(rep.Err, runtime.ErrUnavailable) || rep.Converged() {
		t.Fatalf("%v", rep)
	}
}

func TestOrphansAreReportedNotRemoved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		rt.CreateExternally(newApp("forgotten").ContainerSpec(), runtime.StateRunning)
		rep := o.ReconcileAll(context.Background())
		if len(rep.Apps) != 1 || !strings.HasPrefix(rep.Apps[0].Reason, "orphan") || len(rt.Names()) != 1 {
			t.Fatalf("%v", rep)
		}
		_, o = setup(orchestrator.Options{PruneOrphans: true})
		_ = o
	})
}

func TestConcurrentOperationsOnOneApp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				if i%2 == 0 {
					o.Install(ctx, newApp("lnd"))
				} else {
					o.ReconcileAll(ctx)
				}
			})
		}
		wg.Wait()
		assertRunningHealthy(t, rt, "lnd")
		if rt.Calls(fake.OpCreate) != 1 {
			t.Fatalf("%d creates, want 1", rt.Calls(fake.OpCreate))
		}
	})
}

func TestContextCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		rt.Hang(fake.OpCreate, true)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := o.Install(ctx, newApp("hung"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
	})
}

func TestImagePulledWhenMissing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		app := newApp("explorer")
		app.Container.Image = "registry.local:5000/explorer:2"
		rt.MakePullable(app.Container.Image)
		if _, err := o.Install(context.Background(), app); err != nil {
			t.Fatal(err)
		}
		if rt.Calls(fake.OpPull) != 1 {
			t.Fatalf("pulls = %d", rt.Calls(fake.OpPull))
		}
	})
}

// TestColdStartIsNotServedInWaves: the worker bound limits acting, not waiting for readiness,
// so 20 cold apps with 4 workers become ready in about one MinUptime, not five (the apps have no
// check: each readiness wait lasts MinUptime).
func TestColdStartIsNotServedInWaves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, o := setup(orchestrator.Options{Workers: 4})
		ctx := context.Background()
		var apps []orchestrator.App
		for i := range 20 {
			app := newApp(fmt.Sprintf("app%02d", i))
			app.Health = health.Check{}
			apps = append(apps, app)
		}
		if err := o.RegisterAll(ctx, apps...); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if rep := o.ReconcileAll(ctx); !rep.Converged() || rep.Acted() != 20 {
			t.Fatal(rep)
		}
		if took := time.Since(start); took > orchestrator.DefaultMinUptime+time.Second {
			t.Fatalf("cold start of 20 apps with 4 workers took %v of fake time, want about one MinUptime (%v)", took, orchestrator.DefaultMinUptime)
		}
	})
}
