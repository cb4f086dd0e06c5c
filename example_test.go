package skerry_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/skerry-dev/skerry"
	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/orchestrator"
	qfake "github.com/skerry-dev/skerry/quadlet/fake"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

// A node daemon embedding skerry: on a node, rt is podman.New(ctx, podman.DefaultSocket()),
// units is systemd.New(ctx, systemd.User), ctx ends on SIGTERM, and Run runs until then. Here
// the fakes stand in, and the daemon stops after its first pass.
func Example() {
	rt := fake.New()
	rt.AddImage("localhost/bitcoin-core:27.1", "localhost/lnd:0.18", "localhost/btc-ui:1")
	dir, _ := os.MkdirTemp("", "skerry-example") // the Quadlet unit directory
	defer os.RemoveAll(dir)
	units := qfake.New(dir)

	ctx, stop := context.WithCancel(context.Background())
	sup, err := skerry.New(rt, units, skerry.Options{
		Companions: companion.Options{Dir: dir},
		Logger:     slog.New(slog.DiscardHandler),
		OnReport: func(r skerry.Report) {
			if r.Source == skerry.SourcePass {
				fmt.Println(r.Source, r)
				stop()
			}
		},
	}, nodeApps()...)
	if err != nil {
		log.Fatal(err)
	}
	if err := sup.Run(ctx); !errors.Is(err, context.Canceled) {
		log.Fatal(err)
	}
	for _, a := range sup.Status().Apps {
		fmt.Println(a.Name, a.State, a.Health, "last action:", a.LastAction, len(a.Companions), "companion(s)")
	}
	// Output:
	// pass converged=true bitcoind=missing/unknown->create lnd=missing/unknown->create bitcoind-ui.service=active->none
	// bitcoind running healthy last action: create 1 companion(s)
	// lnd running healthy last action: create 0 companion(s)
}

// nodeApps returns bitcoind, with a web UI as its companion, and lnd, which waits for a
// healthy bitcoind.
func nodeApps() []skerry.App {
	return []skerry.App{{
		App: orchestrator.App{
			Name:      "bitcoind",
			Container: runtime.ContainerSpec{Image: "localhost/bitcoin-core:27.1"},
			Health:    health.Check{Exec: []string{"bitcoin-cli", "getblockchaininfo"}},
			MinUptime: 100 * time.Millisecond,
		},
		Companions: []companion.Spec{{Name: "bitcoind-ui", Image: "localhost/btc-ui:1"}},
	}, {
		App: orchestrator.App{
			Name:      "lnd",
			Container: runtime.ContainerSpec{Image: "localhost/lnd:0.18"},
			Health:    health.Check{Exec: []string{"lncli", "getinfo"}},
			DependsOn: []orchestrator.Dependency{{App: "bitcoind", Condition: orchestrator.Healthy}},
			MinUptime: 100 * time.Millisecond,
		},
	}}
}
