package orchestrator_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

func TestEventsTriggerPerAppPasses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		for _, n := range []string{"bitcoind", "lnd", "electrs"} {
			if _, err := o.Install(ctx, newApp(n)); err != nil {
				t.Fatal(err)
			}
		}
		watching := make(chan struct{})
		go func() { o.WatchEvents(ctx, rt, nil); close(watching) }()
		synctest.Wait()
		rt.ResetCalls()

		rt.KillExternally("lnd")
		time.Sleep(time.Second) // no periodic pass runs in this test
		synctest.Wait()
		assertRunningHealthy(t, rt, "lnd")
		// Only lnd was looked at: its pass inspected and started it, then waited for it.
		if rt.Calls(fake.OpList) != 0 || rt.Calls(fake.OpStart) != 1 {
			t.Fatalf("list=%d start=%d", rt.Calls(fake.OpList), rt.Calls(fake.OpStart))
		}
		time.Sleep(orchestrator.DefaultMinUptime) // well past the restart's own wait for readiness
		synctest.Wait()

		rt.RemoveExternally("electrs")
		rt.SetHealth("bitcoind", runtime.HealthUnhealthy)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		for _, n := range []string{"bitcoind", "lnd", "electrs"} {
			assertRunningHealthy(t, rt, n)
		}

		// A second crash within the backoff waits for it, then is retried without any
		// periodic pass. First let any backoff expire and restart once.
		time.Sleep(orchestrator.BackoffMax)
		rt.KillExternally("lnd")
		time.Sleep(3 * time.Second)
		synctest.Wait()
		assertRunningHealthy(t, rt, "lnd")
		rt.KillExternally("lnd") // within at least BackoffInitial of that restart
		time.Sleep(time.Second)
		synctest.Wait()
		if _, obs, _ := rt.Container("lnd"); obs.State == runtime.StateRunning {
			t.Fatal("restarted inside the crash-loop backoff")
		}
		time.Sleep(orchestrator.BackoffMax)
		synctest.Wait()
		assertRunningHealthy(t, rt, "lnd")
		cancel()
		<-watching // WatchEvents returns once in-flight passes finished
	})
}

func TestReconcileAppNoopIsOneCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		o.Install(ctx, newApp("mempool"))
		rt.ResetCalls()
		rep := o.ReconcileApp(ctx, "mempool")
		if rep.Action != orchestrator.ActionNone || rt.TotalCalls() != 1 || rt.Calls(fake.OpInspect) != 1 {
			t.Fatalf("%v, calls %d", rep, rt.TotalCalls())
		}
		if rep := o.ReconcileApp(ctx, "unknown"); rep.Action != orchestrator.ActionNone || rt.TotalCalls() != 1 {
			t.Fatalf("unknown app: %v", rep)
		}
	})
}

func TestEventApp(t *testing.T) {
	for _, tc := range []struct {
		e    runtime.Event
		app  string
		want bool
	}{
		{runtime.Event{Kind: "died", App: "lnd", Container: "lnd"}, "lnd", true},
		{runtime.Event{Kind: "remove", Container: "electrs"}, "electrs", true},
		{runtime.Event{Kind: "health_status", App: "btc"}, "btc", true},
		{runtime.Event{Kind: "health_status", App: "btc", Health: runtime.HealthUnhealthy}, "btc", true},
		{runtime.Event{Kind: "health_status", App: "btc", Health: runtime.HealthHealthy}, "", false},
		{runtime.Event{Kind: "start", App: "lnd"}, "", false},
		{runtime.Event{Kind: "create", App: "lnd"}, "", false},
		{runtime.Event{Kind: "died"}, "", false},
	} {
		app, ok := orchestrator.EventApp(tc.e)
		if app != tc.app || ok != tc.want {
			t.Errorf("%+v: %q %v", tc.e, app, ok)
		}
	}
}

// silentEvents is an engine whose event stream never delivers: only exit waits see deaths.
type silentEvents struct{ *fake.Runtime }

func (silentEvents) Events(ctx context.Context) (<-chan runtime.Event, error) {
	ch := make(chan runtime.Event)
	go func() { <-ctx.Done(); close(ch) }()
	return ch, nil
}

// withoutWaits hides the engine's runtime.ExitWaiter.
type withoutWaits struct{ runtime.EventSource }

func TestExitWaitsSeeDeathsBeforeEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		for _, n := range []string{"bitcoind", "lnd"} {
			if _, err := o.Install(ctx, newApp(n)); err != nil {
				t.Fatal(err)
			}
		}
		watching := make(chan struct{})
		go func() { o.WatchEvents(ctx, silentEvents{rt}, nil); close(watching) }()
		synctest.Wait()
		if n := rt.Calls(fake.OpWaitExit); n != 2 {
			t.Fatalf("%d exit waits open, want one per running app", n)
		}

		killed := time.Now()
		rt.KillExternally("lnd")
		synctest.Wait() // no time passes: the restart must not wait for anything
		if _, obs, _ := rt.Container("lnd"); obs.State != runtime.StateRunning || !obs.StartedAt.Equal(killed) {
			t.Fatalf("lnd after its death: %v started %v, want restarted at once", obs.State, obs.StartedAt.Sub(killed))
		}
		rt.RemoveExternally("bitcoind")
		synctest.Wait()
		if _, obs, ok := rt.Container("bitcoind"); !ok || obs.State != runtime.StateRunning {
			t.Fatalf("bitcoind after its removal: %v (exists=%v), want recreated at once", obs.State, ok)
		}

		// Re-armed once ready (readiness polls back off to 1 s): a second death is seen too,
		// and waits for the crash-loop backoff without reopening a wait on the dead container.
		time.Sleep(orchestrator.DefaultMinUptime + time.Second)
		synctest.Wait()
		if n := rt.Calls(fake.OpWaitExit); n != 4 {
			t.Fatalf("%d exit waits opened, want 2 + 1 per restart", n)
		}
		inspects := rt.Calls(fake.OpInspect)
		rt.KillExternally("lnd") // 3 s after its restart: inside the backoff that restart began
		synctest.Wait()
		if rt.Calls(fake.OpInspect) == inspects {
			t.Fatal("the second death was not looked at")
		}
		waits := rt.Calls(fake.OpWaitExit)
		time.Sleep(orchestrator.BackoffInitial / 2)
		synctest.Wait()
		if _, obs, _ := rt.Container("lnd"); obs.State == runtime.StateRunning {
			t.Fatal("restarted inside the crash-loop backoff")
		}
		if n := rt.Calls(fake.OpWaitExit) - waits; n != 0 {
			t.Fatalf("%d waits opened on a container kept down", n)
		}
		time.Sleep(orchestrator.BackoffInitial)
		synctest.Wait()
		assertRunningHealthy(t, rt, "lnd")

		// Uninstalled: its wait ends with the container, and none is opened again.
		if _, err := o.Uninstall(ctx, "lnd", orchestrator.UninstallOptions{}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		waits = rt.Calls(fake.OpWaitExit)
		o.ReconcileAll(ctx)
		synctest.Wait()
		if n := rt.Calls(fake.OpWaitExit) - waits; n != 0 {
			t.Fatalf("%d waits opened after the uninstall", n)
		}
		cancel()
		<-watching // every wait ended: the bubble would report a leaked one
	})
}

func TestWithoutExitWaitsDeathsWaitForEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		if _, err := o.Install(ctx, newApp("lnd")); err != nil {
			t.Fatal(err)
		}
		watching := make(chan struct{})
		go func() { o.WatchEvents(ctx, withoutWaits{silentEvents{rt}}, nil); close(watching) }()
		synctest.Wait()
		rt.KillExternally("lnd")
		time.Sleep(time.Minute)
		synctest.Wait()
		if _, obs, _ := rt.Container("lnd"); obs.State == runtime.StateRunning || rt.Calls(fake.OpWaitExit) != 0 {
			t.Fatalf("lnd %v, %d waits: the exit waits of a runtime that is no ExitWaiter", obs.State, rt.Calls(fake.OpWaitExit))
		}
		cancel()
		<-watching
	})
}
