//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/containers/podman/v5/pkg/api/handlers"
	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/containers"

	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/podman"
)

// checkCost measures what one exec check costs the user's session, by cgroup, along the paths a
// node can take: the REST health-check call skerry's daemon makes (with and without an open
// event stream, which podman feeds from the journal), a plain exec through the REST API
// (create, start, inspect, remove: no health log, no event), and `podman healthcheck run`,
// what podman's timers run. It is a diagnostic section (not in the default run).
func (e *env) checkCost(ctx context.Context, n int) error {
	fmt.Fprintf(e.out, "## Cost of one exec check (%d checks in a row on one busybox httpd, wget check)\n\n", n)
	fmt.Fprintf(e.out, "| path | wall per check | session CPU per check | by cgroup (CPU per check) |\n|---|---|---|---|\n")
	const name = "bench-checkcost"
	e.rt.Runtime.DisableDirectChecks() // the REST rows are podman's call, wherever the bench runs
	e.rt.Runtime.Remove(ctx, name, runtime.RemoveOptions{Force: true})
	defer e.rt.Runtime.Remove(ctx, name, runtime.RemoveOptions{Force: true})
	cs := runtime.ContainerSpec{Name: name, Image: image, Command: []string{"httpd", "-f", "-p", "8080", "-h", "/www"},
		Labels:      map[string]string{runtime.LabelManaged: "true", runtime.LabelApp: name},
		HealthCheck: &runtime.HealthCheck{Command: []string{"wget", "-q", "-O-", "http://127.0.0.1:8080/"}, Timeout: 5 * time.Second, Retries: 3},
		StopTimeout: time.Second}
	if err := e.rt.Runtime.Create(ctx, cs); err != nil {
		return err
	}
	if err := e.rt.Runtime.Start(ctx, name); err != nil {
		return err
	}
	time.Sleep(time.Second)
	check := func(ctx context.Context) error { _, err := e.rt.Runtime.RunHealthCheck(ctx, name); return err }
	conn, err := bindings.NewConnection(ctx, podman.DefaultSocket())
	if err != nil {
		return err
	}
	plainExec := func(context.Context) error {
		cfg := &handlers.ExecCreateConfig{}
		cfg.Cmd, cfg.AttachStdout, cfg.AttachStderr = cs.HealthCheck.Command, true, true
		id, err := containers.ExecCreate(conn, name, cfg)
		if err != nil {
			return err
		}
		var out io.Writer = io.Discard
		if err := containers.ExecStartAndAttach(conn, id, new(containers.ExecStartAndAttachOptions).
			WithOutputStream(out).WithErrorStream(out).WithAttachOutput(true).WithAttachError(true)); err != nil {
			return err
		}
		if _, err := containers.ExecInspect(conn, id, nil); err != nil {
			return err
		}
		return containers.ExecRemove(conn, id, nil)
	}
	cli := func(ctx context.Context) error {
		return exec.CommandContext(ctx, "podman", "healthcheck", "run", name).Run()
	}
	measureBatch := func(label string, batch func(context.Context) error) error {
		time.Sleep(2 * time.Second)
		t0, err := cgroupUsage(sliceDir())
		if err != nil {
			return err
		}
		start := time.Now()
		if err := batch(ctx); err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		wall := time.Since(start)
		time.Sleep(500 * time.Millisecond) // let the last cleanup end
		t1, err := cgroupUsage(sliceDir())
		if err != nil {
			return err
		}
		b := breakdown(t0, t1, "")
		for k := range b {
			b[k] /= time.Duration(n)
		}
		fmt.Fprintf(e.out, "| %s | %s ms | %s ms | %s |\n", label, ms(wall/time.Duration(n)), ms((t1[sliceDir()]-t0[sliceDir()])/time.Duration(n)), msText(b))
		return nil
	}
	measure := func(label string, one func(context.Context) error) error {
		return measureBatch(label, func(ctx context.Context) error {
			for range n {
				if err := one(ctx); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := measure("REST health-check call (skerry's daemon), no event stream", check); err != nil {
		return err
	}
	evctx, cancel := context.WithCancel(ctx)
	evs, err := e.rt.Events(evctx)
	if err != nil {
		cancel()
		return err
	}
	go func() {
		for range evs {
		}
	}()
	err = measure("REST health-check call, an event stream open (as the daemon runs)", check)
	cancel()
	if err != nil {
		return err
	}
	if err := measureBatch("the adapter's direct pass (crun exec; a daemon in the user's manager, its CPU included)",
		func(ctx context.Context) error { return e.directChecks(ctx, conn, name, n) }); err != nil {
		return err
	}
	if err := measure("REST exec create, start, inspect, remove (no health log, no event)", plainExec); err != nil {
		return err
	}
	if err := measure("`podman healthcheck run` (what podman's timers run, minus systemd)", cli); err != nil {
		return err
	}
	// The stock user unit runs the service at --log-level=info, which also makes conmon log to
	// syslog: the same call with the service at podman's default level (warn).
	if err := e.serviceLogLevel(ctx, "warn"); err != nil {
		return err
	}
	defer e.serviceLogLevel(ctx, "")
	if err := measure("REST health-check call, service at --log-level=warn", check); err != nil {
		return err
	}
	fmt.Fprintln(e.out)
	return nil
}

// directChecks runs n checks of name through the podman adapter from a process in a scope of
// the user's systemd manager (where a node daemon runs), so that the adapter takes its direct
// pass (runtime/podman/directexec.go); that process's CPU (a Go start, the adapter's fork and
// exec of nsenter and crun) is in the session's. Podman's health record must not change: a
// new entry means a check went through podman.
func (e *env) directChecks(ctx context.Context, conn context.Context, name string, n int) error {
	last := func() string {
		data, err := containers.Inspect(conn, name, nil)
		if err != nil || data.State.Health == nil || len(data.State.Health.Log) == 0 {
			return ""
		}
		return data.State.Health.Log[len(data.State.Health.Log)-1].End
	}
	before := last()
	out, err := exec.CommandContext(ctx, "systemd-run", "--user", "--scope", "--quiet", "--collect",
		os.Args[0], "-checkcost-direct", name, "-checkcost-n", strconv.Itoa(n)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	if after := last(); after != before {
		return fmt.Errorf("podman recorded a check (%s, was %s): the direct pass was not taken", after, before)
	}
	return nil
}

var (
	checkcostDirect = flag.String("checkcost-direct", "", "internal (checkcost): run -checkcost-n checks of this container through the podman adapter, then exit")
	checkcostN      = flag.Int("checkcost-n", 50, "internal (checkcost): the number of checks -checkcost-direct runs")
)

// runDirectChecks is the process directChecks starts: -checkcost-n checks of -checkcost-direct.
func runDirectChecks(ctx context.Context) error {
	r, err := podman.New(ctx, podman.DefaultSocket())
	if err != nil {
		return err
	}
	for range *checkcostN {
		h, err := r.RunHealthCheck(ctx, *checkcostDirect)
		if err != nil {
			return err
		}
		if h != runtime.HealthHealthy {
			return fmt.Errorf("check: %v", h)
		}
	}
	return nil
}

// serviceLogLevel restarts the user's podman API service at level with a drop-in ("": the
// unit's own level, the drop-in removed).
func (e *env) serviceLogLevel(ctx context.Context, level string) error {
	home, _ := os.UserHomeDir()
	dir := filepath.Join(home, ".config/systemd/user/podman.service.d")
	file := filepath.Join(dir, "bench-log-level.conf")
	if level == "" {
		os.Remove(file)
	} else {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(file, []byte("[Service]\nEnvironment=LOGGING=--log-level="+level+"\n"), 0o644); err != nil {
			return err
		}
	}
	if err := e.units.Reload(ctx); err != nil {
		return err
	}
	return exec.CommandContext(ctx, "systemctl", "--user", "restart", "podman.service").Run()
}

func msText(b map[string]time.Duration) string {
	s := ""
	for k, v := range b {
		if v >= 100*time.Microsecond {
			s += fmt.Sprintf("%s %s; ", k, ms(v))
		}
	}
	return s
}
