//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

// Command noded is an example node daemon that embeds skerry (its Supervisor) against real
// rootless Podman and the systemd user manager: two demo apps (busybox httpd standing in for
// bitcoind and lnd, lnd waiting for a healthy bitcoind), a companion web UI under systemd, a
// pre-start hook that renders bitcoind's config with an RPC password rotating every few passes
// (bitcoind and its UI consume it as a podman secret and in the rendered config, and both move
// onto a new password within one pass), a status line per periodic pass and one per event-driven pass that acted or failed. On SIGTERM
// it exits within -shutdown-timeout. Bad flags are refused before anything is touched.
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
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"runtime/pprof"
	"sync/atomic"
	"syscall"
	"text/template"
	"time"

	"github.com/skerry-dev/skerry"
	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/hooks"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/quadlet/systemd"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/podman"
)

func main() {
	var (
		socket    = flag.String("socket", podman.DefaultSocket(), "podman API socket URI")
		image     = flag.String("image", "localhost/busybox:latest", "image with busybox httpd, sh and wget")
		interval  = flag.Duration("interval", 30*time.Second, "time between reconcile passes")
		passes    = flag.Int("passes", 0, "exit after this many passes (0: run until signalled)")
		rotate    = flag.Int("rotate-every", 3, "rotate the RPC password every N passes (0: never)")
		stateDir  = flag.String("state", defaultStateDir(), "directory for rendered configs (an absolute path)")
		uninstall = flag.Bool("uninstall", false, "remove the demo apps and their companions (volumes kept), then exit")
		events    = flag.Bool("events", true, "react to podman events, container exits and unit state changes with per-app passes (the periodic pass stays as resync)")
		extra     = flag.Int("apps", 0, "also manage this many filler apps (busybox httpd), e.g. to measure the footprint")
		verbose   = flag.Bool("v", false, "log every action")
		profile   = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
		heap      = flag.String("memprofile", "", "write a heap profile to this file on exit (after a GC: the live heap)")
		schedule  = flag.Bool("schedule-checks", true, "run the apps' exec checks from the daemon instead of podman's systemd timers (needs -events, off by default without; see skerry.Options.EngineExecChecks)")
		shutdown  = flag.Duration("shutdown-timeout", skerry.DefaultShutdownTimeout, "how long a signalled daemon may take to exit")
		every     = flag.Duration("check-interval", 0, "run every check (demo apps, companion, filler apps) at this interval (0: as written: health.DefaultInterval for the demo apps, 5 s for the companion, 30 s for the filler apps)")
	)
	flag.Parse()
	if !*events && !isSet("schedule-checks") {
		*schedule = false // without the watchers, podman runs the checks
	}
	cfg := config{*socket, *image, *interval, *passes, *rotate, *stateDir, *uninstall, *events, *schedule, *extra, *shutdown, *every}
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "noded:", err)
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
	if err := run(ctx, log, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "noded:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
	if *heap != "" {
		if err := writeHeapProfile(*heap); err != nil {
			fmt.Fprintln(os.Stderr, "noded:", err)
			os.Exit(1)
		}
	}
}

// writeHeapProfile writes the live heap's profile to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	goruntime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// isSet reports whether the flag name was given on the command line.
func isSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
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
	socket          string
	image           string
	interval        time.Duration
	passes          int
	rotateEvery     int
	stateDir        string
	uninstall       bool
	events          bool
	schedule        bool
	extraApps       int
	shutdownTimeout time.Duration
	checkInterval   time.Duration
}

// errUsage marks a bad flag: the daemon touched nothing.
var errUsage = errors.New("bad flag")

// validate checks the flags before anything is touched.
func (c config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
	}
	switch {
	case c.interval <= 0:
		return bad("-interval %v is not positive", c.interval)
	case c.passes < 0:
		return bad("-passes %d is negative", c.passes)
	case c.rotateEvery < 0:
		return bad("-rotate-every %d is negative", c.rotateEvery)
	case c.extraApps < 0 || c.extraApps > 999:
		return bad("-apps %d is outside 0..999", c.extraApps)
	case c.checkInterval < 0:
		return bad("-check-interval %v is negative", c.checkInterval)
	case c.shutdownTimeout <= 0:
		return bad("-shutdown-timeout %v is not positive", c.shutdownTimeout)
	case !filepath.IsAbs(c.stateDir) || filepath.Clean(c.stateDir) != c.stateDir:
		return bad("-state %q is not a clean absolute path", c.stateDir)
	case c.image == "":
		return bad("-image is empty")
	case c.schedule && !c.events:
		return bad("-schedule-checks needs -events: the checks run while the daemon watches (pass -schedule-checks=false)")
	}
	return nil
}

func defaultStateDir() string {
	if d, err := os.UserHomeDir(); err == nil && filepath.IsAbs(d) {
		return filepath.Join(d, ".local", "state", "skerry-noded")
	}
	return "/tmp/skerry-noded"
}

func run(ctx context.Context, log *slog.Logger, cfg config) error {
	var rotation atomic.Int64 // read by hooks and secret values during passes
	password := func() string { return fmt.Sprintf("rpc-password-%d", rotation.Load()) }
	apps := append(demoApps(cfg.image, cfg.stateDir, password), fillerApps(cfg.image, cfg.extraApps)...)
	if cfg.checkInterval > 0 {
		checkEvery(apps, cfg.checkInterval)
	}

	rt, err := podman.New(ctx, cfg.socket)
	if err != nil {
		return err
	}
	// The unit manager outlives ctx: passes that finish after a SIGTERM still reach systemd.
	units, err := systemd.New(context.WithoutCancel(ctx), systemd.User)
	if err != nil {
		return err
	}
	defer units.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pass := 0
	sup, err := skerry.New(rt, units, skerry.Options{
		Interval:         cfg.interval,
		ShutdownTimeout:  cfg.shutdownTimeout,
		EngineExecChecks: !cfg.schedule,
		PeriodicOnly:     !cfg.events,
		Logger:           log,
		OnReport: func(r skerry.Report) {
			if r.Source != skerry.SourcePass {
				if r.Acted() > 0 || !r.Converged() {
					fmt.Printf("%s %s\n", r.Source, r)
				}
				return
			}
			pass++
			fmt.Printf("pass %d %s (%v)\n", pass, r, r.Duration.Round(time.Millisecond))
			if cfg.rotateEvery > 0 && pass%cfg.rotateEvery == 0 {
				rotation.Add(1) // the next pass stores the new secret and rewrites the config: bitcoind and its UI move onto it
			}
			if cfg.passes > 0 && pass >= cfg.passes {
				cancel()
			}
		},
	}, apps...)
	if err != nil { // invalid apps: nothing was touched yet
		return err
	}
	if cfg.uninstall {
		for i := len(apps) - 1; i >= 0; i-- { // dependants first
			if _, err := sup.Uninstall(ctx, apps[i].Name, orchestrator.UninstallOptions{}); err != nil {
				return err
			}
			fmt.Println("uninstalled", apps[i].Name)
		}
		return rt.RemoveSecret(ctx, rpcSecret)
	}
	if err := os.MkdirAll(cfg.stateDir, 0o700); err != nil {
		return err
	}
	if err := sup.Run(ctx); !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// rpcSecret is the podman secret holding bitcoind-demo's RPC password.
const rpcSecret = "bitcoind-demo-rpc"

// demoApps returns two apps and bitcoind's companion UI. Both bitcoind-demo and its UI consume
// the RPC password twice: as the podman secret rpcSecret (bitcoind as $RPC_PASSWORD, the UI as
// /run/secrets/rpc) and in bitcoin.conf, which a pre-start hook renders into a directory both
// mount read-only. When the password rotates, the next pass recreates bitcoind-demo and
// restarts its UI, both onto the new value; the value is never in a unit file or a label.
func demoApps(image, stateDir string, password func() string) []skerry.App {
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
	confMount := runtime.Mount{Type: runtime.MountBind, Source: confDir, Target: "/etc/bitcoin", ReadOnly: true}
	btc.Container.Mounts = append(btc.Container.Mounts, confMount)
	btc.Container.Secrets = []runtime.SecretRef{{Name: rpcSecret, Kind: runtime.SecretEnv, Target: "RPC_PASSWORD"}}
	btc.Secrets = []orchestrator.Secret{{Name: rpcSecret, Value: func(context.Context) ([]byte, error) { return []byte(password()), nil }}}
	btc.Hooks = []hooks.Hook{
		hooks.Func(func(context.Context) (bool, error) { return false, os.MkdirAll(confDir, 0o755) }),
		hooks.TemplateFile{
			Path:      filepath.Join(confDir, "bitcoin.conf"),
			Template:  template.Must(template.New("bitcoin.conf").Parse("rpcuser=ui\nrpcpassword={{.}}\n")),
			Data:      func(context.Context) (any, error) { return password(), nil },
			Mode:      0o644,
			Consumers: []string{"bitcoind-demo", "bitcoind-demo-ui"},
		},
	}
	lnd := web("lnd-demo", 19735)
	lnd.DependsOn = []orchestrator.Dependency{{App: "bitcoind-demo", Condition: orchestrator.Healthy}}
	ui := companion.Spec{
		Name:        "bitcoind-demo-ui",
		Image:       image,
		Command:     []string{"httpd", "-f", "-p", "13002", "-h", "/www"},
		Ports:       []runtime.Port{{HostIP: "127.0.0.1", HostPort: 13002, ContainerPort: 13002}},
		Mounts:      []runtime.Mount{confMount},
		Secrets:     []runtime.SecretRef{{Name: rpcSecret, Target: "rpc"}},
		Health:      health.Check{Exec: []string{"wget", "-q", "-O-", "http://127.0.0.1:13002/"}, Interval: 5 * time.Second},
		StopTimeout: time.Second,
	}
	return []skerry.App{{App: btc, Companions: []companion.Spec{ui}}, {App: lnd}}
}

// fillerApps returns n busybox httpd apps without ports or hooks.
func fillerApps(image string, n int) []skerry.App {
	apps := make([]skerry.App, n)
	for i := range apps {
		apps[i].App = orchestrator.App{
			Name: fmt.Sprintf("filler-%03d", i),
			Container: runtime.ContainerSpec{Image: image, Command: []string{"httpd", "-f", "-p", "8080", "-h", "/www"},
				StopTimeout: time.Second},
			Health: health.Check{Exec: []string{"wget", "-q", "-O-", "http://127.0.0.1:8080/"}, Interval: 30 * time.Second},
		}
	}
	return apps
}

// checkEvery sets the check interval of every app and companion to d.
func checkEvery(apps []skerry.App, d time.Duration) {
	for i := range apps {
		apps[i].Health.Interval = d
		for j := range apps[i].Companions {
			apps[i].Companions[j].Health.Interval = d
		}
	}
}
