package orchestrator_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

// Install an app on the fake runtime, break it behind the orchestrator's back, and let one
// pass repair it. With runtime/podman in place of the fake, the same code drives a real node.
func ExampleOrchestrator() {
	rt := fake.New()
	rt.AddImage("localhost/bitcoin-core:27.1")
	o := orchestrator.New(rt, orchestrator.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := context.Background()

	rep, err := o.Install(ctx, orchestrator.App{
		Name: "bitcoind",
		Container: runtime.ContainerSpec{
			Image:  "localhost/bitcoin-core:27.1",
			Mounts: []runtime.Mount{{Type: runtime.MountVolume, Source: "bitcoind-data", Target: "/data"}},
		},
		Health:    health.Check{Exec: []string{"bitcoin-cli", "getblockchaininfo"}},
		MinUptime: 10 * time.Millisecond,
	})
	fmt.Println("install:", rep.Action, err)

	rt.KillExternally("bitcoind")
	pass := o.ReconcileAll(ctx)
	fmt.Println("pass:", pass.Apps[0].Observed, "->", pass.Apps[0].Action, "converged:", pass.Converged())
	fmt.Println("volumes:", rt.Volumes())
	// Output:
	// install: create <nil>
	// pass: exited -> start converged: true
	// volumes: [bitcoind-data]
}

// With ScheduleExecChecks the engine keeps the check but never runs it on its own: WatchEvents
// runs it on the app's interval, and a failing check brings a restart.
func ExampleOptions_scheduleExecChecks() {
	rt := fake.New()
	rt.AddImage("localhost/lnd:0.18")
	o := orchestrator.New(rt, orchestrator.Options{
		Logger:             slog.New(slog.NewTextHandler(io.Discard, nil)),
		ScheduleExecChecks: true,
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := o.Install(ctx, orchestrator.App{
		Name:      "lnd",
		Container: runtime.ContainerSpec{Image: "localhost/lnd:0.18"},
		Health: health.Check{Exec: []string{"lncli", "state"},
			Interval: 50 * time.Millisecond, Timeout: 50 * time.Millisecond},
		MinUptime: 10 * time.Millisecond,
	}); err != nil {
		fmt.Println(err)
		return
	}
	spec, _, _ := rt.Container("lnd")
	fmt.Println("engine's own check interval:", spec.HealthCheck.Interval)

	watching := make(chan struct{})
	go func() { o.WatchEvents(ctx, rt, nil); close(watching) }()
	starts := rt.Calls(fake.OpStart)
	rt.SetHealth("lnd", runtime.HealthUnhealthy) // what the next check will find
	for deadline := time.Now().Add(10 * time.Second); rt.Calls(fake.OpStart) == starts && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("restarted after a scheduled check failed:", rt.Calls(fake.OpStart) > starts)
	cancel()
	<-watching // WatchEvents returns once its checks and passes ended
	// Output:
	// engine's own check interval: 0s
	// restarted after a scheduled check failed: true
}
