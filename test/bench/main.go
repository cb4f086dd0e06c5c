//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

// Command bench measures skerry against real rootless Podman and the systemd user manager, with
// podman-compose as the peer measured in the same run, and prints Markdown tables. It runs
// inside the integration environment as the unprivileged user; test/bench/run.sh builds it,
// runs it and writes BENCHMARKS.md.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/quadlet"
	"github.com/skerry-dev/skerry/quadlet/systemd"
	"github.com/skerry-dev/skerry/reconciler"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/podman"
)

const image = "localhost/busybox:latest"

var (
	reps   = flag.Int("reps", 11, "repetitions of the fast measurements")
	slow   = flag.Int("slow-reps", 3, "repetitions of the slow ones (compose, periodic-only recovery, companions)")
	noded  = flag.String("noded", "/share/bin/noded", "the example daemon's binary, for the footprint")
	quick  = flag.Bool("quick", false, "smaller N and fewer repetitions, to try the command out")
	only   = flag.String("only", "", "run only these sections, comma-separated: noop, cold, recovery, footprint")
	logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
)

func main() {
	flag.Parse()
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// stats are the min / median / max of a measurement.
type stats struct{ min, med, max time.Duration }

func summarize(ds []time.Duration) stats {
	s := slices.Clone(ds)
	slices.Sort(s)
	return stats{s[0], s[len(s)/2], s[len(s)-1]}
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64)
}

func (s stats) String() string { return ms(s.min) + " / " + ms(s.med) + " / " + ms(s.max) }

func ratio(a, b time.Duration) string {
	return strconv.FormatFloat(float64(a)/float64(b), 'f', 1, 64) + "x"
}

func timeIt(n int, f func() error) (stats, error) {
	var ds []time.Duration
	for range n {
		start := time.Now()
		if err := f(); err != nil {
			return stats{}, err
		}
		ds = append(ds, time.Since(start))
	}
	return summarize(ds), nil
}

// counting wraps a Runtime and counts every call, optional capabilities included.
type counting struct {
	rt    *podman.Runtime
	calls atomic.Int64
}

var _ interface {
	runtime.Runtime
	runtime.HealthRunner
	runtime.LogReader
	runtime.EventSource
	runtime.ExitWaiter
} = (*counting)(nil)

func (c *counting) List(ctx context.Context, o runtime.ListOptions) ([]runtime.Observation, error) {
	c.calls.Add(1)
	return c.rt.List(ctx, o)
}
func (c *counting) Inspect(ctx context.Context, n string) (runtime.Observation, error) {
	c.calls.Add(1)
	return c.rt.Inspect(ctx, n)
}
func (c *counting) Create(ctx context.Context, s runtime.ContainerSpec) error {
	c.calls.Add(1)
	return c.rt.Create(ctx, s)
}
func (c *counting) Start(ctx context.Context, n string) error {
	c.calls.Add(1)
	return c.rt.Start(ctx, n)
}
func (c *counting) Stop(ctx context.Context, n string, t time.Duration) error {
	c.calls.Add(1)
	return c.rt.Stop(ctx, n, t)
}
func (c *counting) Kill(ctx context.Context, n, s string) error {
	c.calls.Add(1)
	return c.rt.Kill(ctx, n, s)
}
func (c *counting) Remove(ctx context.Context, n string, o runtime.RemoveOptions) error {
	c.calls.Add(1)
	return c.rt.Remove(ctx, n, o)
}
func (c *counting) ImageExists(ctx context.Context, r string) (bool, error) {
	c.calls.Add(1)
	return c.rt.ImageExists(ctx, r)
}
func (c *counting) Pull(ctx context.Context, r string, o runtime.PullOptions) error {
	c.calls.Add(1)
	return c.rt.Pull(ctx, r, o)
}
func (c *counting) Build(ctx context.Context, o runtime.BuildOptions) error {
	c.calls.Add(1)
	return c.rt.Build(ctx, o)
}
func (c *counting) RunHealthCheck(ctx context.Context, n string) (runtime.Health, error) {
	c.calls.Add(1)
	return c.rt.RunHealthCheck(ctx, n)
}
func (c *counting) Logs(ctx context.Context, n string, t int) ([]string, error) {
	c.calls.Add(1)
	return c.rt.Logs(ctx, n, t)
}
func (c *counting) Events(ctx context.Context) (<-chan runtime.Event, error) { return c.rt.Events(ctx) }
func (c *counting) WaitExit(ctx context.Context, n string) error {
	c.calls.Add(1)
	return c.rt.WaitExit(ctx, n)
}

func benchApp(name string) orchestrator.App {
	return orchestrator.App{
		Name: name,
		Container: runtime.ContainerSpec{Image: image, Command: []string{"httpd", "-f", "-p", "8080", "-h", "/www"},
			StopTimeout: time.Second},
		Health: health.Check{Exec: []string{"wget", "-q", "-O-", "http://127.0.0.1:8080/"}, Interval: 30 * time.Second},
	}
}

type env struct {
	rt    *counting
	units *systemd.Manager
	sock  string
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
	e := &env{rt: &counting{rt: prt}, units: units, sock: sock, out: os.Stdout,
		http: &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}}}
	ns, coldN := []int{10, 50, 100}, 20
	if *quick {
		ns, coldN, *reps, *slow = []int{5, 10}, 5, 3, 1
	}
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"noop", func(ctx context.Context) error { return e.noop(ctx, ns) }},
		{"cold", func(ctx context.Context) error { return e.cold(ctx, coldN) }},
		{"recovery", e.recovery},
		{"footprint", e.footprint},
	}
	for _, step := range steps {
		if *only != "" && !slices.Contains(strings.Split(*only, ","), step.name) {
			continue
		}
		if err := step.run(ctx); err != nil {
			return err
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

func (e *env) orchestrator(workers int, scheduled bool) *orchestrator.Orchestrator {
	return orchestrator.New(e.rt, orchestrator.Options{Logger: logger, Workers: workers, ScheduleExecChecks: scheduled})
}

// up registers n bench apps and brings them up; down removes them.
func (e *env) up(ctx context.Context, o *orchestrator.Orchestrator, prefix string, n int) ([]string, error) {
	var apps []orchestrator.App
	var names []string
	for i := range n {
		a := benchApp(fmt.Sprintf("%s-%03d", prefix, i))
		apps, names = append(apps, a), append(names, a.Name)
	}
	if err := o.RegisterAll(ctx, apps...); err != nil {
		return nil, err
	}
	if rep := o.ReconcileAll(ctx); !rep.Converged() {
		return nil, fmt.Errorf("bring-up did not converge: %v", rep)
	}
	return names, nil
}

func (e *env) down(ctx context.Context, o *orchestrator.Orchestrator, names []string) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, n := range names {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			o.Uninstall(ctx, n, orchestrator.UninstallOptions{Purge: true})
		})
	}
	wg.Wait()
}

// compose writes a compose file of n services equivalent to the bench apps.
func compose(dir, project string, n int) (string, error) {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range n {
		fmt.Fprintf(&b, "  s%03d:\n    image: %s\n    container_name: %s-%03d\n    command: [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n"+
			"    stop_grace_period: 1s\n    healthcheck:\n      test: [\"CMD\", \"wget\", \"-q\", \"-O-\", \"http://127.0.0.1:8080/\"]\n      interval: 30s\n",
			i, image, project, i)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "compose.yaml")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

func composeCmd(file, project string, args ...string) error {
	cmd := exec.Command("podman-compose", append([]string{"-f", file, "-p", project}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("podman-compose %v: %v\n%s", args, err, out)
	}
	return nil
}

func (e *env) noop(ctx context.Context, ns []int) error {
	fmt.Fprintf(e.out, "## 1. No-op reconcile pass over N running, healthy apps\n\n")
	fmt.Fprintf(e.out, "min / median / max in ms; %d repetitions for skerry and the raw list call, %d for podman-compose.\n\n", *reps, *slow)
	fmt.Fprintf(e.out, "| N | skerry no-op pass | runtime calls per pass | one raw label-filtered REST list | pass / raw list | `podman-compose up -d`, all up | compose / skerry (median) |\n|---|---|---|---|---|---|---|\n")
	for _, n := range ns {
		o := e.orchestrator(4, false)
		names, err := e.up(ctx, o, "noop", n)
		if err != nil {
			return err
		}
		o.ReconcileAll(ctx) // warm
		before := e.rt.calls.Load()
		pass, err := timeIt(*reps, func() error {
			if r := o.ReconcileAll(ctx); r.Acted() != 0 || r.Err != nil {
				return fmt.Errorf("no-op pass acted: %v", r)
			}
			return nil
		})
		if err != nil {
			return err
		}
		calls := float64(e.rt.calls.Load()-before) / float64(*reps)
		raw, err := timeIt(*reps, func() error { return e.rawList(ctx) })
		if err != nil {
			return err
		}
		e.down(ctx, o, names)

		project := fmt.Sprintf("cmp%d", n)
		file, err := compose(filepath.Join(os.TempDir(), "skerry-bench", project), project, n)
		if err != nil {
			return err
		}
		if err := composeCmd(file, project, "up", "-d"); err != nil {
			return err
		}
		cmp, err := timeIt(*slow, func() error { return composeCmd(file, project, "up", "-d") })
		composeCmd(file, project, "down", "-t", "1")
		if err != nil {
			return err
		}
		fmt.Fprintf(e.out, "| %d | %s | %.0f | %s | %s | %s | %s |\n", n, pass, calls, raw, ratio(pass.med, raw.med), cmp, ratio(cmp.med, pass.med))
	}
	fmt.Fprintln(e.out)
	return nil
}

// allHealthy runs the health check of every named container until all pass.
func (e *env) allHealthy(ctx context.Context, names []string) error {
	deadline := time.Now().Add(5 * time.Minute)
	pending := slices.Clone(names)
	for len(pending) > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("not healthy: %v", pending)
		}
		var still []string
		for _, n := range pending {
			if h, err := e.rt.rt.RunHealthCheck(ctx, n); err != nil || h != runtime.HealthHealthy {
				still = append(still, n)
			}
		}
		pending = still
		if len(pending) > 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

func (e *env) cold(ctx context.Context, n int) error {
	fmt.Fprintf(e.out, "## 2. Cold start of N = %d apps, from nothing to all healthy\n\n", n)
	fmt.Fprintf(e.out, "min / median / max in ms over %d runs each. skerry: `RegisterAll` + one `ReconcileAll`, which returns when every app passed its check and stayed up for MinUptime (2 s, the guard against \"running but unreachable\"). podman-compose: `up -d`, then the same active health checks until all pass.\n\n", *slow)
	fmt.Fprintf(e.out, "`ScheduleExecChecks`: skerry runs the exec checks itself, so podman creates no systemd timer per container (the default leaves the checks to podman's timers).\n\n")
	fmt.Fprintf(e.out, "| skerry, Workers = %d | skerry, Workers = 4 (default) | skerry, Workers = %d, ScheduleExecChecks | podman-compose | compose / skerry (Workers = %d, median) | compose / skerry (ScheduleExecChecks, median) |\n|---|---|---|---|---|---|\n", n, n, n)
	var wide, narrow, scheduled []time.Duration
	for r := range *slow {
		for _, run := range []struct {
			workers   int
			scheduled bool
			into      *[]time.Duration
		}{{n, false, &wide}, {4, false, &narrow}, {n, true, &scheduled}} {
			o := e.orchestrator(run.workers, run.scheduled)
			start := time.Now()
			names, err := e.up(ctx, o, fmt.Sprintf("cold%d", r), n)
			if err != nil {
				return err
			}
			*run.into = append(*run.into, time.Since(start))
			e.down(ctx, o, names)
		}
	}
	var cmp []time.Duration
	for r := range *slow {
		project := fmt.Sprintf("cold%d", r)
		file, err := compose(filepath.Join(os.TempDir(), "skerry-bench", project), project, n)
		if err != nil {
			return err
		}
		var names []string
		for i := range n {
			names = append(names, fmt.Sprintf("%s-%03d", project, i))
		}
		start := time.Now()
		if err := composeCmd(file, project, "up", "-d"); err != nil {
			return err
		}
		if err := e.allHealthy(ctx, names); err != nil {
			return err
		}
		cmp = append(cmp, time.Since(start))
		composeCmd(file, project, "down", "-t", "1")
	}
	var floor, timerless []time.Duration
	for r := range *slow {
		d, err := e.floor(ctx, fmt.Sprintf("floor%d", r), n, true)
		if err != nil {
			return err
		}
		floor = append(floor, d)
		if d, err = e.floor(ctx, fmt.Sprintf("floorn%d", r), n, false); err != nil {
			return err
		}
		timerless = append(timerless, d)
	}
	w, nw, sc, c, f := summarize(wide), summarize(narrow), summarize(scheduled), summarize(cmp), summarize(floor)
	fmt.Fprintf(e.out, "| %s | %s | %s | %s | %s | %s |\n\n", w, nw, sc, c, ratio(c.med, w.med), ratio(c.med, sc.med))
	fmt.Fprintf(e.out, "The engine's floor, in the same run: the same %d containers (same specs, native health check included) created and started over the REST API, all at once, nothing awaited: %s. A supervisor that keeps the 2 s guard cannot finish before floor + MinUptime (%s), so compose / (floor + MinUptime) = %s is the best ratio reachable with the guard, and compose / floor = %s the best reachable by one that waits for nothing.\n\n",
		n, f, ms(f.med+orchestrator.DefaultMinUptime), ratio(c.med, f.med+orchestrator.DefaultMinUptime), ratio(c.med, f.med))
	tl := summarize(timerless)
	fmt.Fprintf(e.out, "The same without the health check's timer (interval 0, as with ScheduleExecChecks; podman otherwise runs systemd-run at each start to create it): %s, %s faster than the floor. With the guard, compose / (that + MinUptime) = %s is the best ratio reachable with ScheduleExecChecks.\n\n",
		tl, ratio(f.med, tl.med), ratio(c.med, tl.med+orchestrator.DefaultMinUptime))
	return nil
}

// floor creates and starts n bench containers in parallel over the REST API (what the
// orchestrator sends, minus everything else) and removes them. It returns the wall time of the
// creates and starts. Without timer, their checks have interval 0: podman creates no timer.
func (e *env) floor(ctx context.Context, prefix string, n int, timer bool) (time.Duration, error) {
	specs := make([]runtime.ContainerSpec, n)
	for i := range specs {
		specs[i] = benchApp(fmt.Sprintf("%s-%03d", prefix, i)).ContainerSpec()
		if !timer {
			specs[i].HealthCheck.Interval = 0
		}
	}
	errs := make(chan error, n)
	start := time.Now()
	var wg sync.WaitGroup
	for _, s := range specs {
		wg.Go(func() {
			if err := e.rt.rt.Create(ctx, s); err != nil {
				errs <- err
				return
			}
			errs <- e.rt.rt.Start(ctx, s.Name)
		})
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	for _, s := range specs {
		e.rt.rt.Remove(ctx, s.Name, runtime.RemoveOptions{Force: true, Volumes: true})
	}
	for err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return took, nil
}

// waitBack polls name's inspect data until a container runs again (a new start) and the engine
// records a passing health check of that run: podman resets the health to "starting" at each
// start, so "healthy" means a check passed since. Who ran the check does not matter (skerry runs
// one at once after a start; under systemd, podman's timer runs the next scheduled one); the
// benchmark runs none itself, so that it neither adds an exec's latency nor competes.
func (e *env) waitBack(ctx context.Context, name string, killedAt time.Time) (time.Duration, error) {
	deadline := killedAt.Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		o, err := e.rt.rt.Inspect(ctx, name)
		if err == nil && o.State == runtime.StateRunning && o.StartedAt.After(killedAt) && o.Health == runtime.HealthHealthy {
			return time.Since(killedAt), nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, fmt.Errorf("%s did not come back", name)
}

func (e *env) recovery(ctx context.Context) error {
	fmt.Fprintf(e.out, "## 3. Recovery: from `podman kill` to running and healthy again\n\n")
	fmt.Fprintf(e.out, "min / median / max in ms. Each kill hits a different app (a second kill of one app within its crash-loop backoff would wait for it, by design). Back = running again, with a passing health check of the new run recorded by podman (polled with inspect every 10 ms; the benchmark runs no check itself). skerry runs a check as soon as it started the container; under systemd the first check is podman's next scheduled one (interval 1 s here).\n\n")
	fmt.Fprintf(e.out, "| supervision | runs | recovery |\n|---|---|---|\n")
	// Events on: WatchEvents reacts to the died event with a pass over that app.
	o := e.orchestrator(4, false)
	names, err := e.up(ctx, o, "rec", *reps)
	if err != nil {
		return err
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan struct{})
	go func() { o.WatchEvents(wctx, e.rt, nil); close(done) }()
	time.Sleep(time.Second)
	var ds []time.Duration
	for _, n := range names {
		killed := time.Now()
		if err := e.rt.rt.Kill(ctx, n, "SIGKILL"); err != nil {
			return err
		}
		d, err := e.waitBack(ctx, n, killed)
		if err != nil {
			return err
		}
		ds = append(ds, d)
	}
	stop()
	<-done
	fmt.Fprintf(e.out, "| skerry, events on | %d | %s |\n", len(ds), summarize(ds))

	// Periodic only: the reconciler's default 30 s interval, no events.
	ds = nil
	lctx, lstop := context.WithCancel(ctx)
	defer lstop()
	loop := reconciler.New(func(ctx context.Context) (orchestrator.Report, error) { r := o.ReconcileAll(ctx); return r, r.Err },
		reconciler.Options[orchestrator.Report]{Logger: logger})
	go loop.Run(lctx)
	time.Sleep(time.Second)
	for _, n := range names[:*slow] {
		killed := time.Now()
		e.rt.rt.Kill(ctx, n, "SIGKILL")
		d, err := e.waitBack(ctx, n, killed)
		if err != nil {
			return err
		}
		ds = append(ds, d)
	}
	lstop()
	fmt.Fprintf(e.out, "| skerry, periodic passes only (30 s) | %d | %s |\n", len(ds), summarize(ds))
	e.down(ctx, o, names)

	for _, rs := range []time.Duration{10 * time.Second, time.Second} {
		d, n, err := e.companionRecovery(ctx, rs)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.out, "| companion under systemd, `Restart=always`, `RestartSec=%v` | %d | %s |\n", rs, n, d)
	}
	fmt.Fprintln(e.out)
	return nil
}

func (e *env) companionRecovery(ctx context.Context, restartSec time.Duration) (stats, int, error) {
	comps, err := companion.New(e.units, e.rt, companion.Options{Logger: logger})
	if err != nil {
		return stats{}, 0, err
	}
	app := fmt.Sprintf("comp%d", restartSec/time.Second)
	spec := companion.Spec{Name: app + "-ui", Image: image, Command: []string{"httpd", "-f", "-p", "8081", "-h", "/www"},
		Health:     health.Check{Exec: []string{"wget", "-q", "-O-", "http://127.0.0.1:8081/"}, Interval: time.Second, Timeout: time.Second},
		RestartSec: restartSec, StopTimeout: time.Second}
	if err := comps.Register(app, spec); err != nil {
		return stats{}, 0, err
	}
	defer comps.Remove(ctx, app)
	if err := comps.Install(ctx, app); err != nil {
		return stats{}, 0, err
	}
	var ds []time.Duration
	for range *slow {
		killed := time.Now()
		if err := e.rt.rt.Kill(ctx, spec.Name, "SIGKILL"); err != nil {
			return stats{}, 0, err
		}
		d, err := e.waitBack(ctx, spec.Name, killed)
		if err != nil {
			return stats{}, 0, err
		}
		ds = append(ds, d)
		time.Sleep(2 * time.Second) // stay clear of systemd's start limit (5 starts in 10 s)
		e.units.ResetFailed(ctx, quadlet.ServiceName(spec.Name))
	}
	return summarize(ds), len(ds), nil
}

func procStat(pid int) (rssKB int64, cpuTicks int64, err error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			rssKB, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return rssKB, ut + st, nil
}

func (e *env) footprint(ctx context.Context) error {
	const apps, window = 50, 60 * time.Second
	fmt.Fprintf(e.out, "## 4. Footprint of the example daemon managing %d apps\n\n", apps+2)
	fmt.Fprintf(e.out, "Measured over %v of idle running (periodic passes every 30 s, events on, exec checks every 30 s), after the bring-up settled. Session CPU is all the CPU of the user's session over the window (`/sys/fs/cgroup/user.slice/user-%d.slice/cpu.stat`: the daemon, the podman service, conmon, the health checks and the apps), in %% of one core.\n\n", window, os.Getuid())
	fmt.Fprintf(e.out, "| checks run by | daemon RSS at start / end of the window | daemon CPU | session CPU | podman API service RSS (context) |\n|---|---|---|---|---|\n")
	for _, scheduled := range []bool{false, true} {
		row, err := e.idle(ctx, apps, window, scheduled)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.out, row)
	}
	fmt.Fprintln(e.out)
	return nil
}

// idle runs examples/noded with apps filler apps, waits for its first pass and for the
// bring-up to settle, and measures it and the user's session over window. It returns a table
// row.
func (e *env) idle(ctx context.Context, apps int, window time.Duration, scheduled bool) (string, error) {
	cmd := exec.CommandContext(ctx, *noded, "-apps", strconv.Itoa(apps), "-interval", "30s", "-rotate-every", "0",
		"-schedule-checks="+strconv.FormatBool(scheduled))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		exec.Command(*noded, "-apps", strconv.Itoa(apps), "-uninstall").Run()
	}()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "pass 1 ") {
			if !strings.Contains(sc.Text(), "converged=true") {
				return "", fmt.Errorf("noded: %s", sc.Text())
			}
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	time.Sleep(5 * time.Second) // settle after the bring-up
	rss0, cpu0, err := procStat(cmd.Process.Pid)
	if err != nil {
		return "", err
	}
	session0, err := sessionCPU()
	if err != nil {
		return "", err
	}
	time.Sleep(window)
	rss1, cpu1, err := procStat(cmd.Process.Pid)
	if err != nil {
		return "", err
	}
	session1, err := sessionCPU()
	if err != nil {
		return "", err
	}
	const ticksPerSec = 100
	cpuPct := float64(cpu1-cpu0) / ticksPerSec / window.Seconds() * 100
	sessionPct := (session1 - session0).Seconds() / window.Seconds() * 100
	podmanRSS := "n/a"
	e.rawList(ctx) // the socket-activated service exits when idle: wake it to measure it
	if out, err := exec.Command("pgrep", "-u", strconv.Itoa(os.Getuid()), "-f", "podman.* system service").Output(); err == nil {
		var total int64
		for _, p := range strings.Fields(string(out)) {
			pid, _ := strconv.Atoi(p)
			if r, _, err := procStat(pid); err == nil {
				total += r
			}
		}
		podmanRSS = fmt.Sprintf("%.1f MB", float64(total)/1024)
	}
	who := "podman's timers (default)"
	if scheduled {
		who = "the daemon (`-schedule-checks`)"
	}
	return fmt.Sprintf("| %s | %.1f MB / %.1f MB | %.2f %% | %.2f %% | %s |", who, float64(rss0)/1024, float64(rss1)/1024, cpuPct, sessionPct, podmanRSS), nil
}

// sessionCPU returns the CPU time used so far by the calling user's session slice.
func sessionCPU() (time.Duration, error) {
	path := fmt.Sprintf("/sys/fs/cgroup/user.slice/user-%d.slice/cpu.stat", os.Getuid())
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "usage_usec" {
			us, err := strconv.ParseInt(f[1], 10, 64)
			return time.Duration(us) * time.Microsecond, err
		}
	}
	return 0, fmt.Errorf("%s: no usage_usec", path)
}
