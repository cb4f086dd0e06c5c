// Command simulate runs skerry anywhere, with no container engine: a small Bitcoin node's apps on
// the in-memory fake runtime, a few injected faults, and a supervisor at a short interval that
// prints each pass's report (and each event-driven repair) until every app is running and
// healthy.
//
//	go run ./examples/simulate
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"text/template"
	"time"

	"github.com/skerry-dev/skerry"
	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/hooks"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

func main() {
	interval := flag.Duration("interval", time.Second, "time between reconcile passes")
	verbose := flag.Bool("v", false, "log every action")
	flag.Parse()
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	dir, err := os.MkdirTemp("", "skerry-simulate")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, log, dir, *interval); err != nil {
		fmt.Fprintln(os.Stderr, "simulate:", err)
		os.Exit(1)
	}
}

const image = "localhost/node-apps:demo"

// nodeApps returns the demo node: bitcoind, lnd (waits for a healthy bitcoind), electrs,
// mempool, and btcpay, whose pre-start hook renders a config holding the current RPC password.
func nodeApps(dir string, password func() string) []orchestrator.App {
	app := func(name string, port uint16, deps ...string) orchestrator.App {
		a := orchestrator.App{
			Name: name,
			Container: runtime.ContainerSpec{
				Image:   image,
				Command: []string{name},
				Ports:   []runtime.Port{{HostIP: "127.0.0.1", HostPort: port, ContainerPort: port}},
				Mounts:  []runtime.Mount{{Type: runtime.MountVolume, Source: name + "-data", Target: "/data"}},
				CapDrop: []string{"ALL"},
			},
			Health:    health.Check{Exec: []string{"healthcheck"}},
			MinUptime: 300 * time.Millisecond,
		}
		for _, d := range deps {
			a.DependsOn = append(a.DependsOn, orchestrator.Dependency{App: d})
		}
		return a
	}
	btcpay := app("btcpay", 23000, "bitcoind")
	conf := filepath.Join(dir, "btcpay.conf")
	btcpay.Container.Mounts = append(btcpay.Container.Mounts, runtime.Mount{Type: runtime.MountBind, Source: conf, Target: "/etc/btcpay.conf", ReadOnly: true})
	btcpay.Hooks = []hooks.Hook{hooks.TemplateFile{
		Path:     conf,
		Template: template.Must(template.New("btcpay.conf").Parse("btc.rpc.password={{.}}\n")),
		Data:     func(context.Context) (any, error) { return password(), nil },
	}}
	return []orchestrator.App{
		app("bitcoind", 8332),
		app("lnd", 10009, "bitcoind"),
		app("electrs", 50001, "bitcoind"),
		app("mempool", 4080, "electrs"),
		btcpay,
	}
}

// run drives the simulation and returns once a pass finds everything converged.
func run(ctx context.Context, out io.Writer, log *slog.Logger, dir string, interval time.Duration) error {
	rt := fake.New()
	rt.AddImage(image)
	passwords := []string{"first-password", "rotated-password"}
	password := func() string { return passwords[0] }
	var apps []skerry.App
	for _, a := range nodeApps(dir, password) {
		apps = append(apps, skerry.App{App: a})
	}

	passes := 0
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	sup, err := skerry.New(rt, nil, skerry.Options{
		Interval: interval,
		Logger:   log,
		OnReport: func(r skerry.Report) {
			if r.Source != skerry.SourcePass { // a pass of its own for an app: an exit, an event
				if r.Acted() > 0 {
					printApps(out, "  "+r.Source.String()+":", r)
				}
				return
			}
			passes++
			fmt.Fprintf(out, "pass %d: %d apps, %d acted, converged=%v\n", passes, len(r.Apps), r.Acted(), r.Converged())
			printApps(out, "", r)
			switch {
			case r.Converged() && r.Acted() == 0:
				fmt.Fprintf(out, "converged after %d passes: %s\n", passes, rt)
				stop()
			case passes == 1:
				// Between passes: the stuck engine recovers, someone kills lnd (its exit is seen
				// at once), and the RPC password rotates (btcpay's hook will rewrite its config
				// and restart it).
				fmt.Fprintln(out, "-- electrs' engine fault cleared; lnd killed; RPC password rotated")
				rt.ClearFaults()
				rt.KillExternally("lnd")
				passwords = passwords[1:]
			}
		},
	}, apps...)
	if err != nil {
		return err
	}
	// Faults for the first pass: electrs' container gets stuck in Created.
	rt.SetBehaviour("electrs", fake.Behaviour{StuckCreated: true})
	if err := sup.Run(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	if passes == 0 || !converged(rt) {
		return fmt.Errorf("did not converge: %s", rt)
	}
	return nil
}

// printApps prints one line per app of r.
func printApps(out io.Writer, prefix string, r skerry.Report) {
	for _, a := range r.Apps {
		line := fmt.Sprintf("%s  %-9s %-8s -> %-8s %s", prefix, a.App, a.Observed, a.Action, a.Reason)
		if a.Err != nil {
			line += "  ERROR: " + a.Err.Error()
		}
		fmt.Fprintln(out, line)
	}
}

func converged(rt *fake.Runtime) bool {
	for _, name := range rt.Names() {
		if _, o, _ := rt.Container(name); o.State != runtime.StateRunning || o.Health != runtime.HealthHealthy {
			return false
		}
	}
	return len(rt.Names()) == 5
}
