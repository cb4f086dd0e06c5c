//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package fault_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
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

// The node the child daemon keeps: two apps (btc with a rendered config holding a rotating
// password, lnd waiting for a healthy btc), each with a named volume, and btc's companion UI.
// btc owns the network netName (orchestrator.App.Networks); btc, lnd and the companion join it
// by name, and the companion reaches btc by its name on it.
const (
	goodImage = "localhost/busybox:latest"
	btcApp    = "fault-btc"
	lndApp    = "fault-lnd"
	uiName    = "fault-btc-ui"
	uiUnit    = uiName + ".service"
	netName   = "fault-net"
	badRel    = "bad" // a release whose check never passes: no server listens
	// passTimeout bounds one pass; shutdownBound is what a SIGTERM may take: the supervisor's
	// shutdown timeout and the process's exit.
	passTimeout   = 60 * time.Second
	shutdownBound = skerry.DefaultShutdownTimeout + 2*time.Second
	readyTimeout  = 6 * time.Second
)

var apps = []string{btcApp, lndApp}

// signalsHandled is the child's first line: from then on SIGTERM goes to its handler. A SIGTERM
// sent before (a few ms after the exec, while the Go runtime starts) kills the process with the
// default action, which is no daemon's fault: TestSIGTERMAtAnyMoment waits for the line.
const signalsHandled = "signals handled"

// childEnv is the environment variable that makes the test binary the daemon: "run",
// "uninstall", or "idle" (a daemon that supervises no app: what a node runs once its apps are
// uninstalled; its passes sweep what an uninstall left).
const childEnv = "SKERRY_FAULT_CHILD"

// childConfig is what the parent hands the daemon (as environment variables).
type childConfig struct {
	Mode      string // "run", "uninstall" or "idle"
	Image     string // the image of apps and companion
	Release   string // the apps' release (RELEASE in their environment); badRel never gets healthy
	UIRelease string // the companion's release
	Password  string // the base of the RPC password rendered into btc's config
	Rotate    int    // rotate the password every Rotate passes (0: never)
	// UpgradeTo, when set, is registered as the apps' release after the first converged pass:
	// an upgrade inside one process, where the last good release is known.
	UpgradeTo string
}

func (c childConfig) environ() []string {
	return append(os.Environ(), childEnv+"="+c.Mode, "SKERRY_FAULT_IMAGE="+c.Image,
		"SKERRY_FAULT_RELEASE="+c.Release, "SKERRY_FAULT_UI_RELEASE="+c.UIRelease,
		"SKERRY_FAULT_PASSWORD="+c.Password, "SKERRY_FAULT_ROTATE="+strconv.Itoa(c.Rotate),
		"SKERRY_FAULT_UPGRADE_TO="+c.UpgradeTo)
}

func childConfigFromEnv() childConfig {
	rot, _ := strconv.Atoi(os.Getenv("SKERRY_FAULT_ROTATE"))
	return childConfig{Mode: os.Getenv(childEnv), Image: os.Getenv("SKERRY_FAULT_IMAGE"),
		Release: os.Getenv("SKERRY_FAULT_RELEASE"), UIRelease: os.Getenv("SKERRY_FAULT_UI_RELEASE"),
		Password: os.Getenv("SKERRY_FAULT_PASSWORD"), Rotate: rot, UpgradeTo: os.Getenv("SKERRY_FAULT_UPGRADE_TO")}
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild(childConfigFromEnv()))
	}
	os.Exit(m.Run())
}

// stateDir holds the daemon's rendered files.
func stateDir() string { return filepath.Join(os.Getenv("HOME"), ".local", "state", "skerry-fault") }

func confPath() string { return filepath.Join(stateDir(), "btc", "bitcoin.conf") }

// runChild is the daemon: what a node OS embedding skerry runs, wired like examples/noded
// (the supervisor over podman and the user manager). It prints one line per periodic pass
// ("pass N converged=B ..."), the other reports that acted or did not converge, and "shutdown
// after D" when it ends on SIGTERM.
func runChild(cfg childConfig) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	fmt.Println(signalsHandled)
	var signalled atomic.Int64
	go func() { <-ctx.Done(); signalled.Store(time.Now().UnixNano()) }()
	fail := func(what string, err error) int {
		fmt.Fprintf(os.Stderr, "child: %s: %v\n", what, err)
		return 1
	}
	rt, err := podman.New(ctx, podman.DefaultSocket())
	if err != nil {
		return fail("podman", err)
	}
	// The signal's context, as a daemon written without special care would pass it: the bus
	// connection must not end with it while passes finish.
	units, err := systemd.New(ctx, systemd.User)
	if err != nil {
		return fail("systemd", err)
	}
	defer units.Close()
	var rotation atomic.Int64
	password := func() string { return fmt.Sprintf("%s-%d", cfg.Password, rotation.Load()) }
	pass, upgrading := 0, false
	var sup *skerry.Supervisor
	var upgrades sync.WaitGroup
	defer upgrades.Wait()
	supervised := nodeApps(cfg.Image, cfg.Release, password, uiSpec(cfg.Image, cfg.UIRelease))
	if cfg.Mode == "idle" {
		supervised = nil
	}
	sup, err = skerry.New(rt, units, skerry.Options{
		Interval: time.Second, ShutdownTimeout: skerry.DefaultShutdownTimeout, PassTimeout: passTimeout,
		// The supervisor runs the exec checks unless told to leave them to podman's timers
		// (which issue 14's finding 4 leaked).
		EngineExecChecks: os.Getenv("SKERRY_FAULT_ENGINE_CHECKS") == "1",
		Logger:           log,
		OnReport: func(r skerry.Report) {
			if r.Source != skerry.SourcePass {
				if r.Acted() > 0 || !r.Converged() {
					fmt.Printf("%s %s\n", r.Source, r)
				}
				return
			}
			pass++
			fmt.Printf("pass %d converged=%v: %s\n", pass, r.Converged(), r)
			if cfg.Rotate > 0 && pass%cfg.Rotate == 0 {
				rotation.Add(1)
			}
			if cfg.UpgradeTo != "" && r.Converged() && !upgrading {
				upgrading = true
				upgrades.Go(func() { // an upgrade inside the process: Install waits for its outcome
					for _, a := range nodeApps(cfg.Image, cfg.UpgradeTo, password, uiSpec(cfg.Image, cfg.UIRelease)) {
						_, err := sup.Install(ctx, a)
						fmt.Printf("upgrade %s to %s: %v\n", a.Name, cfg.UpgradeTo, err)
					}
				})
			}
		},
	}, supervised...)
	if err != nil {
		return fail("supervisor", err)
	}
	if cfg.Mode == "uninstall" {
		for _, a := range []string{lndApp, btcApp} { // dependants first
			rep, err := sup.Uninstall(ctx, a, orchestrator.UninstallOptions{})
			if err != nil {
				return fail("uninstall "+a, err)
			}
			var reasons []string
			for _, r := range rep.Apps {
				reasons = append(reasons, r.Reason)
			}
			fmt.Printf("uninstalled %s: %s\n", a, strings.Join(reasons, "; "))
		}
		fmt.Println("uninstall done")
		return 0
	}
	err = sup.Run(ctx)
	if at := signalled.Load(); at != 0 {
		fmt.Printf("shutdown after %v (%v)\n", time.Since(time.Unix(0, at)).Round(time.Millisecond), err)
	}
	if !errors.Is(err, context.Canceled) {
		return fail("run", err)
	}
	return 0
}

// nodeApps are btc (with ui, its companions) and lnd on release rel: busybox httpd with an exec
// check; rel badRel runs no server, so its check never passes.
func nodeApps(image, rel string, password func() string, ui ...companion.Spec) []skerry.App {
	web := func(name string, port uint16) orchestrator.App {
		cmd := []string{"httpd", "-f", "-p", fmt.Sprint(port), "-h", "/www"}
		if rel == badRel {
			cmd = []string{"sh", "-c", "echo release bad serves nothing; exec sleep 600"}
		}
		return orchestrator.App{
			Name: name,
			Container: runtime.ContainerSpec{
				Image:       image,
				Command:     cmd,
				Env:         map[string]string{"RELEASE": rel},
				Mounts:      []runtime.Mount{{Type: runtime.MountVolume, Source: name + "-data", Target: "/data"}},
				Ports:       []runtime.Port{{HostIP: "127.0.0.1", HostPort: port, ContainerPort: port}},
				StopTimeout: time.Second, // busybox httpd as PID 1 ignores SIGTERM
			},
			Health: health.Check{Exec: []string{"wget", "-q", "-O-", fmt.Sprintf("http://127.0.0.1:%d/", port)},
				Interval: 2 * time.Second, Timeout: time.Second, FailureThreshold: 2},
			ReadyTimeout: readyTimeout,
		}
	}
	confDir := filepath.Dir(confPath())
	onNet := runtime.Network{Mode: runtime.NetworkNamed, Name: netName}
	btc := web(btcApp, 18432)
	btc.Networks = []orchestrator.Network{{Name: netName}}
	btc.Container.Network = onNet
	btc.Container.Mounts = append(btc.Container.Mounts, runtime.Mount{Type: runtime.MountBind, Source: confDir, Target: "/etc/bitcoin", ReadOnly: true})
	btc.Hooks = []hooks.Hook{
		hooks.Func(func(context.Context) (bool, error) { return false, os.MkdirAll(confDir, 0o755) }),
		hooks.TemplateFile{
			Path:     confPath(),
			Template: template.Must(template.New("bitcoin.conf").Parse("rpcuser=ui\nrpcpassword={{.}}\n")),
			Data:     func(context.Context) (any, error) { return password(), nil },
			Mode:     0o644,
		},
	}
	lnd := web(lndApp, 19835)
	lnd.DependsOn = []orchestrator.Dependency{{App: btcApp, Condition: orchestrator.Healthy}}
	lnd.Container.Network = onNet
	return []skerry.App{{App: btc, Companions: ui}, {App: lnd}}
}

// uiSpec is btc's companion web UI on release rel.
func uiSpec(image, rel string) companion.Spec {
	return companion.Spec{
		Name:        uiName,
		Image:       image,
		Command:     []string{"httpd", "-f", "-p", "13102", "-h", "/www"},
		Env:         map[string]string{"RELEASE": rel},
		Ports:       []runtime.Port{{HostIP: "127.0.0.1", HostPort: 13102, ContainerPort: 13102}},
		Network:     runtime.Network{Mode: runtime.NetworkNamed, Name: netName},
		Health:      health.Check{Exec: []string{"wget", "-q", "-O-", "http://127.0.0.1:13102/"}, Interval: 2 * time.Second, Timeout: time.Second},
		RestartSec:  time.Second,
		StopTimeout: time.Second,
	}
}
