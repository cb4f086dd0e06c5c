package fake

// The fake's optional capabilities: health-check runs, exit waits, logs.

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/skerry-dev/skerry/runtime"
)

// RunHealthCheck implements runtime.HealthRunner.
func (r *Runtime) RunHealthCheck(ctx context.Context, name string) (runtime.Health, error) {
	if err := r.enter(ctx, OpRunHealthCheck); err != nil {
		return runtime.HealthUnknown, err
	}
	defer r.mu.Unlock()
	c, ok := r.containers[name]
	if !ok {
		return runtime.HealthUnknown, notFound(name)
	}
	if c.state != runtime.StateRunning {
		return runtime.HealthUnknown, fmt.Errorf("fake: healthcheck %q: container is %s", name, c.state)
	}
	if c.spec.HealthCheck == nil {
		return runtime.HealthUnknown, fmt.Errorf("fake: healthcheck %q: container has no health check", name)
	}
	c.health = c.probe
	r.emit(c, "health_status")
	return c.health, nil
}

// engineScheduled reports whether the engine runs c's health check on a timer.
func (c *container) engineScheduled() bool {
	return c.spec.HealthCheck != nil && c.spec.HealthCheck.Interval > 0
}

// WaitExit implements runtime.ExitWaiter: it returns when name is neither running nor paused,
// a scheduled death (Behaviour.DieAfter) included, at its time.
func (r *Runtime) WaitExit(ctx context.Context, name string) error {
	if err := r.enter(ctx, OpWaitExit); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	changes := r.changes.Subscribe(ctx, 16, func(n string) bool { return n == name })
	for waited := false; ; waited = true {
		c, ok := r.containers[name]
		if !ok && waited { // removed while running: its run ended
			r.mu.Unlock()
			return nil
		}
		if !ok {
			r.mu.Unlock()
			return notFound(name)
		}
		if c.state != runtime.StateRunning && c.state != runtime.StatePaused {
			r.mu.Unlock()
			return nil
		}
		var death <-chan time.Time
		if !c.dieAt.IsZero() {
			death = time.After(time.Until(c.dieAt))
		}
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return fmt.Errorf("fake %s: %w", OpWaitExit, ctx.Err())
		case <-changes:
		case <-death:
		}
		r.mu.Lock()
		r.advance(time.Now())
	}
}

// Logs implements runtime.LogReader: the fake records one line per start and per death.
func (r *Runtime) Logs(ctx context.Context, name string, tail int) ([]string, error) {
	if err := r.enter(ctx, OpLogs); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	c, ok := r.containers[name]
	if !ok {
		return nil, notFound(name)
	}
	lines := c.logs
	if tail > 0 && len(lines) > tail {
		lines = lines[len(lines)-tail:]
	}
	return slices.Clone(lines), nil
}
