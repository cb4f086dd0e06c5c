//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package main

import (
	"context"
	"fmt"
	"os/exec"
	"sync"
	"time"

	"github.com/skerry-dev/skerry/runtime"
)

// removeCost measures the removal of n running busybox httpd containers (which ignore SIGTERM,
// so every stop waits its 1 s StopTimeout) along three paths: stop then remove each, all at
// once (what an uninstall does); one forced remove each (podman stops with the container's own
// StopTimeout), all at once; stop then remove with at most 8 at a time; and one podman CLI
// process removing them all (the engine's floor, no REST service). It is a diagnostic
// section (not in the default run).
func (e *env) removeCost(ctx context.Context, n int) error {
	fmt.Fprintf(e.out, "## Removal of %d running containers (StopTimeout 1 s, SIGTERM ignored)\n\n| path | wall | session CPU | by cgroup |\n|---|---|---|---|\n", n)
	names := appNames("rmcost", n)
	stopRemove := func(name string) {
		e.rt.Runtime.Stop(ctx, name, time.Second)
		e.rt.Runtime.Remove(ctx, name, runtime.RemoveOptions{Force: true, Volumes: true})
	}
	forced := func(name string) { e.rt.Runtime.Remove(ctx, name, runtime.RemoveOptions{Force: true, Volumes: true}) }
	// The engine's own batch: one podman CLI process removing every container (podman rm works
	// on several at once by itself), no REST service in between.
	cli := func(string) {
		if err := podmanRemoveAll(ctx, names); err != nil {
			fmt.Fprintf(e.out, "<!-- %v -->\n", err)
		}
	}
	for _, p := range []struct {
		label string
		one   func(string)
		limit int
		once  bool
	}{
		{"stop, then remove (volumes too), all at once", stopRemove, n, false},
		{"forced remove (volumes too), all at once", forced, n, false},
		{"stop, then remove, 8 at a time", stopRemove, 8, false},
		{"`podman rm --force --volumes --time 1` of all, one CLI process", cli, 1, true},
	} {
		if err := e.startContainers(ctx, names); err != nil {
			return err
		}
		time.Sleep(2 * time.Second)
		t0, err := cgroupUsage(sliceDir())
		if err != nil {
			return err
		}
		start := time.Now()
		sem := make(chan struct{}, p.limit)
		var wg sync.WaitGroup
		for i, name := range names {
			if p.once && i > 0 {
				break
			}
			sem <- struct{}{}
			wg.Go(func() { defer func() { <-sem }(); p.one(name) })
		}
		wg.Wait()
		wall := time.Since(start)
		t1, err := cgroupUsage(sliceDir())
		if err != nil {
			return err
		}
		fmt.Fprintf(e.out, "| %s | %s ms | %s ms | %s |\n", p.label, ms(wall), ms(t1[sliceDir()]-t0[sliceDir()]), msText(breakdown(t0, t1, "")))
	}
	fmt.Fprintln(e.out)
	return nil
}

// startContainers creates and starts a bench container per name, 8 at a time.
func (e *env) startContainers(ctx context.Context, names []string) error {
	errs := make(chan error, len(names))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, name := range names {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			cs := benchApp(name).Container
			cs.Name = name
			cs.Labels = map[string]string{runtime.LabelManaged: "true", runtime.LabelApp: name}
			if err := e.rt.Runtime.Create(ctx, cs); err != nil {
				errs <- err
				return
			}
			if err := e.rt.Runtime.Start(ctx, name); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// podmanRemoveAll removes the named containers with one podman CLI process, which works on
// several at once by itself.
func podmanRemoveAll(ctx context.Context, names []string) error {
	args := append([]string{"rm", "--force", "--volumes", "--time", "1"}, names...)
	if out, err := exec.CommandContext(ctx, "podman", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("podman rm: %w: %.200s", err, out)
	}
	return nil
}

// batchRemoveFloor starts a running bench container per name and times podman's own removal of
// them all (podmanRemoveAll): what no tool on this engine can beat.
func (e *env) batchRemoveFloor(ctx context.Context, names []string) (time.Duration, error) {
	if err := e.startContainers(ctx, names); err != nil {
		return 0, err
	}
	time.Sleep(2 * time.Second)
	start := time.Now()
	err := podmanRemoveAll(ctx, names)
	return time.Since(start), err
}
