//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

// Command noded is an example node daemon that embeds skerry against real rootless Podman and
// the systemd user manager: two demo apps (busybox httpd standing in for bitcoind and lnd, lnd
// waiting for a healthy bitcoind), a companion web UI under systemd, a pre-start hook that
// renders the UI's config with an RPC password rotating every few passes, and the reconciler
// printing a status line per pass.
//
//	CGO_ENABLED=0 go build -tags "containers_image_openpgp exclude_graphdriver_btrfs remote" ./examples/noded
//	./noded -image localhost/busybox:latest
//
// It needs an image with busybox's httpd, sh and wget (the integration environment imports one
// as localhost/busybox:latest). Stop it with Ctrl-C; its apps keep running, and the companion
// stays under systemd. `noded -uninstall` removes everything it installed, keeping volumes.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/hooks"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/quadlet/systemd"
	"github.com/skerry-dev/skerry/reconciler"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/podman"
)

func main() {
	var (
		socket    = flag.String("socket", podman.DefaultSocket(), "podman API socket URI")
		image     = flag.String("image", "localhost/busybox:latest", "image with busybox httpd, sh and wget")
		interval  = flag.Duration("interval", 30*time.Second, "time between reconcile passes")
		passes    = flag.Int("passes", 0, "exit after this many passes (0: run until signalled)")
		rotate    = flag.Int("rotate-every", 3, "rotate the RPC password every N passes")
		stateDir  = flag.String("state", defaultStateDir(), "directory for rendered configs")
		uninstall = flag.Bool("uninstall", false, "remove the demo apps and their companions (volumes kept), then exit")
		events    = flag.Bool("events", true, "react to podman events, container exits and unit state changes with per-app passes (the periodic pass stays as resync)")
		extra     = flag.Int("apps", 0, "also manage this many filler apps (busybox httpd), e.g. to measure the footprint")
		verbose   = flag.Bool("v", false, "log every action")
		profile   = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
		schedule  = flag.Bool("schedule-checks", false, "run the apps' exec checks from the daemon instead of podman's systemd timers (needs -events; see orchestrator.Options.ScheduleExecChecks)")
	)
	flag.Parse()
	if *schedule && !*events {
		fmt.Fprintln(os.Stderr, "noded: -schedule-checks needs -events: the checks run while the daemon watches")
		os.Exit(2)
	}
	if *profile != "" {
		if err := startProfile(*profile); err != nil {
			fmt.Fprintln(os.Stderr, "noded:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, config{*socket, *image, *interval, *passes, *rotate, *stateDir, *uninstall, *events, *schedule, *extra}); err != nil {
		fmt.Fprintln(os.Stderr, "noded:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// startProfile starts a CPU profile written to path until pprof.StopCPUProfile.
func startProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return pprof.StartCPUProfile(f)
}

type config struct {
	socket      string
	image       string
	interval    time.Duration
	passes      int
	rotateEvery int
	stateDir    string
	uninstall   bool
	events      bool
	schedule    bool
	extraApps   int
}

func defaultStateDir() string {
	if d, err := os.UserHomeDir(); err == nil {
		return filepath.Join(d, ".local", "state", "skerry-noded")
	}
	return "/tmp/skerry-noded"
}

func run(ctx context.Context, log *slog.Logger, cfg config) error {
	rt, err := podman.New(ctx, cfg.socket)
	if err != nil {
		return err
	}
	units, err := systemd.New(ctx, systemd.User)
	if err != nil {
		return err
	}
	defer units.Close()
	comps, err := companion.New(units, rt, companion.Options{Logger: log})
	if err != nil {
		return err
	}
	o := orchestrator.New(rt, orchestrator.Options{Logger: log, Companions: comps, ScheduleExecChecks: cfg.schedule})
	if err := os.MkdirAll(cfg.stateDir, 0o700); err != nil {
		return err
	}

	rotation := 0
	password := func() string { return fmt.Sprintf("rpc-password-%d", rotation) }
	apps, ui := demoApps(cfg.image, cfg.stateDir, password)
	apps = append(apps, fillerApps(cfg.image, cfg.extraApps)...)
	if err := comps.Register("bitcoind-demo", ui); err != nil {
		return err
	}
	if err := o.RegisterAll(ctx, apps...); err != nil {
		return err
	}
	if cfg.uninstall {
		var names []string
		for _, a := range apps {
			names = append([]string{a.Name}, names...) // dependants first
		}
		for _, a := range names {
			if _, err := o.Uninstall(ctx, a, orchestrator.UninstallOptions{}); err != nil {
				return err
			}
			fmt.Println("uninstalled", a)
		}
		return nil
	}

	pass := 0
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.events {
		// A died/removed/unhealthy container gets its own pass at once; bursts coalesce. With
		// -schedule-checks, this also runs the apps' checks.
		var wg sync.WaitGroup
		defer wg.Wait()
		defer cancel()
		wg.Go(func() {
			o.WatchEvents(ctx, rt, func(r orchestrator.AppReport) {
				if r.Action != orchestrator.ActionNone {
					fmt.Printf("event %s\n", r)
				}
			})
		})
		// A companion stopped or failed under systemd gets a pass of its own at once.
		wg.Go(func() { comps.WatchUnits(ctx, units.UnitChanges) })
	}
	loop := reconciler.New(func(ctx context.Context) (status, error) {
		r := o.ReconcileAll(ctx)
		return status{apps: r, companions: comps.Reconcile(ctx)}, r.Err
	}, reconciler.Options[status]{
		Interval: cfg.interval,
		Logger:   log,
		OnReport: func(s status, err error) {
			pass++
			fmt.Printf("pass %d %s\n", pass, s)
			if cfg.rotateEvery > 0 && pass%cfg.rotateEvery == 0 {
				rotation++ // the next pass's hook rewrites the UI config; the UI restarts
			}
			if cfg.passes > 0 && pass >= cfg.passes {
				cancel()
			}
		},
	})
	if err := loop.Run(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// status is one pass of the daemon: apps and companions.
type status struct {
	apps       orchestrator.Report
	companions []companion.UnitReport
}

// String is the status line: every app and companion with its state and the action taken.
func (s status) String() string {
	if s.apps.Err != nil {
		return "error: " + s.apps.Err.Error()
	}
	var parts []string
	for _, a := range s.apps.Apps {
		p := fmt.Sprintf("%s=%s/%s->%s", a.App, a.Observed, a.Health, a.Action)
		if a.Err != nil {
			p += "(" + a.Err.Error() + ")"
		}
		parts = append(parts, p)
	}
	for _, c := range s.companions {
		p := fmt.Sprintf("%s=%s->%s", c.Unit, c.State.ActiveState, c.Action)
		if c.Rewritten {
			p += "(rewritten)"
		}
		if c.Err != nil {
			p += "(" + c.Err.Error() + ")"
		}
		parts = append(parts, p)
	}
	return fmt.Sprintf("converged=%v %s (%v)", s.apps.Converged(), strings.Join(parts, " "), s.apps.Duration.Round(time.Millisecond))
}

// demoApps returns two apps and bitcoind's companion UI. A pre-start hook of bitcoind-demo
// renders its config (holding the RPC password) into a file mounted read-only into it; when the
// password rotates the hook reports a change and the orchestrator restarts bitcoind-demo.
func demoApps(image, stateDir string, password func() string) ([]orchestrator.App, companion.Spec) {
	web := func(name string, port uint16) orchestrator.App {
		return orchestrator.App{
			Name: name,
			Container: runtime.ContainerSpec{
				Image:       image,
				Command:     []string{"httpd", "-f", "-p", fmt.Sprint(port), "-h", "/www"},
				Mounts:      []runtime.Mount{{Type: runtime.MountVolume, Source: name + "-data", Target: "/data"}},
				Ports:       []runtime.Port{{HostIP: "127.0.0.1", HostPort: port, ContainerPort: port}},
				StopTimeout: time.Second,
			},
			Health: health.Check{Exec: []string{"wget", "-q", "-O-", fmt.Sprintf("http://127.0.0.1:%d/", port)}},
		}
	}
	confDir := filepath.Join(stateDir, "bitcoind")
	btc := web("bitcoind-demo", 18332)
	btc.Container.Mounts = append(btc.Container.Mounts, runtime.Mount{Type: runtime.MountBind, Source: confDir, Target: "/etc/bitcoin", ReadOnly: true})
	btc.Hooks = []hooks.Hook{
		hooks.Func(func(context.Context) (bool, error) { return false, os.MkdirAll(confDir, 0o755) }),
		hooks.TemplateFile{
			Path:     filepath.Join(confDir, "bitcoin.conf"),
			Template: template.Must(template.New("bitcoin.conf").Parse("rpcuser=ui\nrpcpassword={{.}}\n")),
			Data:     func(context.Context) (any, error) { return password(), nil },
			Mode:     0o644,
		},
	}
	lnd := web("lnd-demo", 19735)
	lnd.DependsOn = []orchestrator.Dependency{{App: "bitcoind-demo", Condition: orchestrator.Healthy}}
	ui := companion.Spec{
		Name:        "bitcoind-demo-ui",
		Image:       image,
		Command:     []string{"httpd", "-f", "-p", "13002", "-h", "/www"},
		Ports:       []runtime.Port{{HostIP: "127.0.0.1", HostPort: 13002, ContainerPort: 13002}},
		Health:      health.Check{Exec: []string{"wget", "-q", "-O-", "http://127.0.0.1:13002/"}, Interval: 5 * time.Second},
		StopTimeout: time.Second,
	}
	return []orchestrator.App{btc, lnd}, ui
}

// fillerApps returns n busybox httpd apps without ports or hooks.
func fillerApps(image string, n int) []orchestrator.App {
	apps := make([]orchestrator.App, n)
	for i := range apps {
		apps[i] = orchestrator.App{
			Name: fmt.Sprintf("filler-%03d", i),
			Container: runtime.ContainerSpec{Image: image, Command: []string{"httpd", "-f", "-p", "8080", "-h", "/www"},
				StopTimeout: time.Second},
			Health: health.Check{Exec: []string{"wget", "-q", "-O-", "http://127.0.0.1:8080/"}, Interval: 30 * time.Second},
		}
	}
	return apps
}
