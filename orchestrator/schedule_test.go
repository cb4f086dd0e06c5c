package orchestrator_test

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

// With ScheduleExecChecks, the engine runs no check on its own: WatchEvents runs each running
// app's check on its interval, and a check that finds the app unhealthy brings a restart.
func TestScheduledChecksFindUnhealthyApps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{ScheduleExecChecks: true})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		names := []string{"bitcoind", "lnd", "electrs"}
		for _, n := range names {
			if _, err := o.Install(ctx, newApp(n)); err != nil {
				t.Fatal(err)
			}
			if spec, _, _ := rt.Container(n); spec.HealthCheck == nil || spec.HealthCheck.Interval != 0 {
				t.Fatalf("%s: the engine schedules its check: %+v", n, spec.HealthCheck)
			}
		}
		watching := make(chan struct{})
		go func() { o.WatchEvents(ctx, rt, nil); close(watching) }()
		synctest.Wait()
		rt.ResetCalls()

		// Idle: one check per app per interval, and nothing else.
		time.Sleep(6 * health.DefaultInterval) // exactly 6 checks per app, whatever their phases
		synctest.Wait()
		if got, want := rt.Calls(fake.OpRunHealthCheck), 6*len(names); got != want || rt.TotalCalls() != want {
			t.Fatalf("idle minute: %d checks (want %d), %d calls in all", got, want, rt.TotalCalls())
		}

		// A failing check is recorded when the schedule runs it, then the app is restarted.
		rt.SetHealth("lnd", runtime.HealthUnhealthy)
		synctest.Wait()
		if _, obs, _ := rt.Container("lnd"); obs.Health != runtime.HealthHealthy {
			t.Fatalf("recorded before any check ran: %v", obs.Health)
		}
		started := rt.Calls(fake.OpStart)
		time.Sleep(health.DefaultInterval + orchestrator.DefaultMinUptime)
		synctest.Wait()
		if rt.Calls(fake.OpStart) != started+1 {
			t.Fatalf("starts %d -> %d; engine: %s", started, rt.Calls(fake.OpStart), rt)
		}
		assertRunningHealthy(t, rt, "lnd")

		// The restarted app is checked on schedule again; an uninstalled one no more.
		o.Uninstall(ctx, "electrs", orchestrator.UninstallOptions{})
		rt.ResetCalls()
		time.Sleep(3 * health.DefaultInterval)
		synctest.Wait()
		if got := rt.Calls(fake.OpRunHealthCheck); got != 3*2 {
			t.Fatalf("%d checks of 2 apps over 3 intervals", got)
		}
		cancel()
		<-watching
	})
}

// The price of ScheduleExecChecks: without WatchEvents nothing runs the checks, so periodic
// passes never see a check start failing. With the engine's timers (the default) they do.
func TestScheduledChecksNeedWatchEvents(t *testing.T) {
	for _, scheduled := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			rt, o := setup(orchestrator.Options{ScheduleExecChecks: scheduled})
			ctx := context.Background()
			if _, err := o.Install(ctx, newApp("mempool")); err != nil {
				t.Fatal(err)
			}
			rt.SetHealth("mempool", runtime.HealthUnhealthy)
			time.Sleep(time.Minute)
			rep := o.ReconcileAll(ctx)
			restarted := rep.Apps[0].Action != orchestrator.ActionNone
			if restarted == scheduled {
				t.Fatalf("scheduled=%v: %v", scheduled, rep)
			}
		})
	}
}

// Switching ScheduleExecChecks changes the container spec, so the next pass recreates the app;
// its volume is kept. A no-op pass stays one runtime call.
func TestSwitchingScheduleRecreates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, timers := setup(orchestrator.Options{})
		ctx := context.Background()
		if _, err := timers.Install(ctx, newApp("btcpay")); err != nil {
			t.Fatal(err)
		}
		scheduled := orchestrator.New(rt, orchestrator.Options{Logger: quiet, ScheduleExecChecks: true})
		if err := scheduled.Register(ctx, newApp("btcpay")); err != nil {
			t.Fatal(err)
		}
		rep := scheduled.ReconcileAll(ctx)
		if !rep.Converged() || rep.Apps[0].Action != orchestrator.ActionRecreate {
			t.Fatalf("%v", rep)
		}
		if spec, _, _ := rt.Container("btcpay"); spec.HealthCheck.Interval != 0 || !slices.Contains(rt.Volumes(), "btcpay-data") {
			t.Fatalf("after the switch: %+v, volumes %v", spec.HealthCheck, rt.Volumes())
		}
		rt.ResetCalls()
		if rep := scheduled.ReconcileAll(ctx); rep.Apps[0].Action != orchestrator.ActionNone || rt.TotalCalls() != 1 {
			t.Fatalf("second pass: %v, %d calls", rep, rt.TotalCalls())
		}
	})
}

// A daemon that restarts while an app's container runs unchecked (it died mid-start, or someone
// started the container by hand) sees health "starting" with no engine timer to end it. A pass
// runs the check of such an app at once; while the check says "starting" (a start period), the
// schedule keeps running it.
func TestScheduledChecksGiveStartingAppsAVerdict(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, before := setup(orchestrator.Options{ScheduleExecChecks: true})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		for _, n := range []string{"electrs", "mempool"} {
			if _, err := before.Install(ctx, newApp(n)); err != nil {
				t.Fatal(err)
			}
			rt.KillExternally(n)
			rt.Start(ctx, n) // started behind skerry's back: no check ran
		}
		rt.SetHealth("mempool", runtime.HealthStarting) // its check will say "starting"

		after := orchestrator.New(rt, orchestrator.Options{Logger: quiet, ScheduleExecChecks: true})
		if err := after.RegisterAll(ctx, newApp("electrs"), newApp("mempool")); err != nil {
			t.Fatal(err)
		}
		watching := make(chan struct{})
		go func() { after.WatchEvents(ctx, rt, nil); close(watching) }()
		synctest.Wait() // the watches start before any pass saw the apps
		rt.ResetCalls()
		rep := after.ReconcileAll(ctx)
		if rep.Apps[0].Action != orchestrator.ActionNone || rep.Apps[1].Action != orchestrator.ActionWait ||
			rt.Calls(fake.OpRunHealthCheck) != 2 {
			t.Fatalf("%v; %d checks", rep, rt.Calls(fake.OpRunHealthCheck))
		}
		assertRunningHealthy(t, rt, "electrs")
		rt.SetHealth("mempool", runtime.HealthHealthy) // the start period ends
		time.Sleep(health.DefaultInterval + time.Second)
		synctest.Wait()
		assertRunningHealthy(t, rt, "mempool")
		cancel()
		<-watching
	})
}

// A readiness check waits for other apps' starts in flight, at most until its own app's
// MinUptime is reached: on a small node checks run beside a burst of starts slow every start,
// and a start that hangs delays no app's verdict by more than MinUptime.
func TestReadinessChecksYieldToStarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		if _, err := o.Install(ctx, newApp("lnd")); err != nil {
			t.Fatal(err)
		}
		ensure := func() <-chan error {
			done := make(chan error, 1)
			go func() { _, err := o.EnsureRunning(ctx, "lnd"); done <- err }()
			return done
		}

		// Alone: lnd's check runs as soon as it started.
		rt.KillExternally("lnd")
		rt.ResetCalls()
		done := ensure()
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if n := rt.Calls(fake.OpRunHealthCheck); n != 1 {
			t.Fatalf("alone: %d checks 100 ms after the start", n)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}

		// Beside btcpay's start, which hangs for 10 s: lnd's check waits until lnd's MinUptime.
		rt.Hang(fake.OpCreate, true)
		bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		go o.Install(bctx, newApp("btcpay"))
		synctest.Wait()
		rt.KillExternally("lnd")
		rt.ResetCalls()
		done = ensure()
		time.Sleep(orchestrator.DefaultMinUptime - 100*time.Millisecond)
		synctest.Wait()
		if n := rt.Calls(fake.OpRunHealthCheck); n != 0 {
			t.Fatalf("beside a start: %d checks before MinUptime", n)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := rt.Calls(fake.OpRunHealthCheck); n != 1 {
			t.Fatalf("beside a start: %d checks in all", n)
		}
		rt.Hang(fake.OpCreate, false)
		cancel()
		synctest.Wait()
	})
}

// An app without an exec check (none here; an HTTP check likewise) has nothing to schedule: WatchEvents
// must not arm a check watch for it. Before, the watch returned at once and queued a pass, whose
// sight of the running app armed it again: passes without end, and fake time never moved.
func TestScheduledChecksLeaveAppsWithoutExecCheckAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{ScheduleExecChecks: true})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		plain := newApp("plain")
		plain.Health = health.Check{}
		if _, err := o.Install(ctx, plain); err != nil {
			t.Fatal(err)
		}
		passes := 0
		watching := make(chan struct{})
		go func() {
			o.WatchEvents(ctx, rt, func(orchestrator.AppReport) {
				if passes++; passes > 50 {
					cancel() // a loop: stop it so that the test fails instead of hanging
				}
			})
			close(watching)
		}()
		synctest.Wait()
		rt.ResetCalls()
		time.Sleep(3 * health.DefaultInterval)
		synctest.Wait()
		if passes > 0 || ctx.Err() != nil {
			t.Fatalf("%d event passes over idle apps without an exec check; %d runtime calls", passes, rt.TotalCalls())
		}
		cancel()
		<-watching
	})
}
