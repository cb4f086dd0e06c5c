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
