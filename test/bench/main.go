//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

// Command bench measures skerry (its Supervisor, with its default options) against real
// rootless Podman and the systemd user manager, with the two peers a node team would pick
// instead, measured in the same run: plain Quadlet + systemd (Restart=always with systemd's
// default RestartSec, Notify=healthy, the same image and exec check) in every section, and
// podman-compose for bring-up. It prints Markdown tables. It runs inside the integration
// environment as the unprivileged user; test/bench/run.sh builds it, runs it and writes
// BENCHMARKS.md.
//
// Files: main.go (flags, sections), stats.go, counting.go (the counted runtime), node.go
// (skerry), quadlet.go (the Quadlet + systemd peer), compose.go (the podman-compose peer),
// events.go (when containers came back, from podman's events), and one file per section:
// noop.go, cold.go, recovery.go, footprint.go.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/skerry-dev/skerry/quadlet/systemd"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/podman"
)

// image is the integration environment's test image: busybox with httpd, sh and wget.
const image = "localhost/busybox:latest"

var (
	reps         = flag.Int("reps", 11, "repetitions of the fast measurements")
	slow         = flag.Int("slow-reps", 3, "repetitions of the slow ones (bring-ups, bursts)")
	noded        = flag.String("noded", "/share/bin/noded", "the example daemon's binary, for the footprint")
	quick        = flag.Bool("quick", false, "smaller N and fewer repetitions, to try the command out")
	footPeers    = flag.Bool("footprint-peers", true, "footprint: also measure the node with podman's timers and Quadlet + systemd (false: skerry's default row only, to try a change out; no record)")
	debugCgroups = flag.Bool("debug-cgroups", false, "footprint: name every cgroup of the breakdown's \"other\"")
	window       = flag.Duration("window", time.Minute, "footprint: the idle window measured")
	only         = flag.String("only", "", "run only these sections, comma-separated: "+strings.Join(sectionNames, ", "))
	logger       = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
)

var sectionNames = []string{"noop", "cold", "recovery", "footprint"}

// diagnostics are sections that run only when -only names them: they explain a figure of the
// record, they are not part of it.
var diagnostics = []string{"checkcost", "removecost"}

func main() {
	flag.Parse()
	if *checkcostDirect != "" { // checkcost's child: see directChecks
		if err := runDirectChecks(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	for _, s := range strings.Split(*only, ",") {
		if s != "" && !slices.Contains(sectionNames, s) && !slices.Contains(diagnostics, s) {
			fmt.Fprintf(os.Stderr, "bench: -only: unknown section %q (known: %s)\n", s, strings.Join(sectionNames, ", "))
			os.Exit(2)
		}
	}
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// env is what every section uses: the counted runtime, the user's systemd manager, the podman
// socket for raw calls, and where the tables go.
type env struct {
	rt    *counting
	units *systemd.Manager
	http  *http.Client
	out   io.Writer
}

func run(ctx context.Context) error {
	sock := strings.TrimPrefix(podman.DefaultSocket(), "unix://")
	prt, err := podman.New(ctx, podman.DefaultSocket())
	if err != nil {
		return err
	}
	units, err := systemd.New(ctx, systemd.User)
	if err != nil {
		return err
	}
	defer units.Close()
	e := &env{rt: &counting{Runtime: prt}, units: units, out: os.Stdout,
		http: &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}}}
	ns, coldN, burstN, burstKill, footN := []int{10, 50, 100}, 20, 30, 10, 50
	if *quick {
		ns, coldN, burstN, burstKill, footN, *reps, *slow = []int{5, 10}, 5, 6, 2, 5, 3, 1
	}
	sections := map[string]func(context.Context) error{
		"noop":       func(ctx context.Context) error { return e.noop(ctx, ns) },
		"cold":       func(ctx context.Context) error { return e.cold(ctx, coldN) },
		"recovery":   func(ctx context.Context) error { return e.recovery(ctx, burstN, burstKill) },
		"footprint":  func(ctx context.Context) error { return e.footprint(ctx, footN, *window) },
		"checkcost":  func(ctx context.Context) error { return e.checkCost(ctx, 50) },
		"removecost": func(ctx context.Context) error { return e.removeCost(ctx, 100) },
	}
	for _, name := range append(sectionNames, diagnostics...) {
		if (*only == "" && slices.Contains(diagnostics, name)) || (*only != "" && !slices.Contains(strings.Split(*only, ","), name)) {
			continue
		}
		if err := sections[name](ctx); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// rawList is one label-filtered list call over the REST API, with nothing of skerry's on top.
func (e *env) rawList(ctx context.Context) error {
	q := url.Values{"all": {"true"}, "filters": {`{"label":["` + runtime.LabelManaged + `=true"]}`}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://d/v5.0.0/libpod/containers/json?"+q.Encode(), nil)
	resp, err := e.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}
