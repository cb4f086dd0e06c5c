//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/skerry-dev/skerry"
	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
)

// checkInterval is every peer's check interval (a node's typical one).
const checkInterval = 30 * time.Second

// benchApp is one app: busybox httpd with an exec check fetching its page.
func benchApp(name string) skerry.App {
	return skerry.App{App: orchestrator.App{
		Name: name,
		Container: runtime.ContainerSpec{Image: image, Command: []string{"httpd", "-f", "-p", "8080", "-h", "/www"},
			StopTimeout: time.Second},
		Health: health.Check{Exec: []string{"wget", "-q", "-O-", "http://127.0.0.1:8080/"}, Interval: checkInterval},
	}}
}

func appNames(prefix string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return names
}

// node is a running skerry supervisor with the default options, as a node's daemon runs it.
type node struct {
	sup    *skerry.Supervisor
	names  []string
	passes chan skerry.Report // the periodic passes' reports
	stop   context.CancelFunc
	done   chan struct{} // closed when Run returned, with runErr
	runErr error
}

// startNode builds a supervisor of the named apps, runs it, and returns once its first pass
// ended (for a bring-up: every app running and its first check passed) with how long that took
// from New.
func (e *env) startNode(ctx context.Context, names []string) (*node, time.Duration, error) {
	apps := make([]skerry.App, len(names))
	for i, n := range names {
		apps[i] = benchApp(n)
	}
	n := &node{names: names, passes: make(chan skerry.Report, 16), done: make(chan struct{})}
	start := time.Now()
	sup, err := skerry.New(e.rt, e.units, skerry.Options{Logger: logger, OnReport: func(r skerry.Report) {
		if r.Source == skerry.SourcePass {
			n.passes <- r
		}
	}}, apps...)
	if err != nil {
		return nil, 0, err
	}
	n.sup = sup
	rctx, stop := context.WithCancel(ctx)
	n.stop = stop
	go func() {
		n.runErr = sup.Run(rctx)
		close(n.done)
	}()
	r, err := n.pass(ctx, false)
	took := time.Since(start)
	if err == nil && !r.Converged() {
		err = fmt.Errorf("bring-up did not converge: %v", r)
	}
	if err != nil {
		n.close(ctx)
		return nil, 0, err
	}
	return n, took, nil
}

// pass returns the next periodic pass's report, after triggering one when trigger is set.
func (n *node) pass(ctx context.Context, trigger bool) (skerry.Report, error) {
	if trigger {
		n.sup.Trigger()
	}
	select {
	case r := <-n.passes:
		return r, nil
	case <-n.done:
		return skerry.Report{}, fmt.Errorf("supervisor ended: %w", n.runErr)
	case <-time.After(5 * time.Minute):
		return skerry.Report{}, errors.New("no pass within 5 minutes")
	case <-ctx.Done():
		return skerry.Report{}, ctx.Err()
	}
}

// close stops the supervisor and uninstalls every app, all at once, volumes included; it
// returns how long the uninstall took.
func (n *node) close(ctx context.Context) time.Duration {
	n.stop()
	<-n.done
	if n.runErr != nil && !errors.Is(n.runErr, context.Canceled) {
		logger.Error("supervisor", "err", n.runErr)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, name := range n.names {
		wg.Go(func() {
			if _, err := n.sup.Uninstall(ctx, name, orchestrator.UninstallOptions{Purge: true}); err != nil {
				logger.Error("uninstall", "app", name, "err", err)
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}
