package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/runtime"
)

// currentHealth returns the committed health of a running container: the engine's verdict for
// exec checks, the tracker's after one probe for HTTP/TCP checks, HealthNone without a check.
// With Options.ScheduleExecChecks, an exec check without a verdict yet is run now: no engine
// timer would run it (the container may have been started while no daemon ran the schedule).
func (o *Orchestrator) currentHealth(ctx context.Context, s *appState, obs runtime.Observation, now time.Time) runtime.Health {
	if obs.State != runtime.StateRunning || !s.desired {
		return obs.Health
	}
	switch s.app.Health.Kind() {
	case health.KindExec:
		h := obs.Health
		runner, ok := o.rt.(runtime.HealthRunner)
		if verdict := h == runtime.HealthHealthy || h == runtime.HealthUnhealthy; !verdict && ok && o.opts.ScheduleExecChecks {
			if ran, err := runner.RunHealthCheck(ctx, s.spec.Name); err == nil {
				h = ran
			}
		}
		if h == runtime.HealthNone || h == runtime.HealthUnknown {
			return runtime.HealthStarting
		}
		return h
	case health.KindHTTP, health.KindTCP:
		r, _ := o.opts.Prober(s.app.Health).Probe(ctx)
		s.tracker = s.tracker.Observe(s.app.Health, obs.StartedAt, now, r)
		switch s.tracker.Status {
		case health.StatusHealthy:
			return runtime.HealthHealthy
		case health.StatusUnhealthy:
			return runtime.HealthUnhealthy
		}
		return runtime.HealthStarting
	}
	return runtime.HealthNone
}

// waitReady polls until the started app is ready (see readiness: its first passing check; for
// an app without a check, and for a guarded start, running for MinUptime too), it stops running,
// its check commits unhealthy, or its ReadyTimeout passes. guarded marks a start that a previous
// release waits on (an upgrade, a rollback). A fresh start's exec check runs first, and the
// container is inspected only when it did not pass. Polls start at 50 ms and double up to 1 s;
// once the check passed, the check is not run again (an exec check costs the engine a process)
// and the next poll is when MinUptime is reached. app is the release the container runs (its
// check and timings). When ctx ends first, the wait is abandoned with an error wrapping
// ErrInterrupted and the container is left as it is: a shutdown is not a verdict.
func (o *Orchestrator) waitReady(parent context.Context, s *appState, app App, guarded bool) error {
	name, check := s.spec.Name, app.Health.WithDefaults()
	defer yieldSlot(parent)() // waiting needs no worker slot
	ctx, cancel := context.WithTimeoutCause(parent, app.readyTimeout(), errReadyTimeout)
	defer cancel()
	minUptime := app.minUptime()
	s.tracker = s.tracker.Reset()
	runner, _ := o.rt.(runtime.HealthRunner)
	var first *health.Result // a failed first check, run before any inspect: counted once observed
	if !guarded && check.Kind() == health.KindExec && runner != nil {
		// A fresh start is ready at its first passing check, and a check that passes proves
		// the container runs: the check comes first, the inspect only when it did not pass
		// (an engine call less per start). Gated as below, from now (StartedAt is not known).
		if !sleep(ctx, minUptime, o.starts.idle()) {
			return o.waitEnded(parent, s, app)
		}
		h, err := runner.RunHealthCheck(ctx, name)
		if err != nil && ctx.Err() != nil {
			return o.waitEnded(parent, s, app)
		}
		if r := health.Result(err == nil && h == runtime.HealthHealthy); r == health.Success {
			// A success's start time does not matter (only a failure's, for StartPeriod).
			if s.tracker = s.tracker.Observe(check, time.Time{}, time.Now(), r); s.tracker.Status == health.StatusHealthy {
				o.publish(func() { s.seen = seen{runtime.StateRunning, runtime.HealthHealthy} })
				return nil
			}
		} else {
			first = &r
		}
	}
	delay := 50 * time.Millisecond
	for {
		obs, err := o.rt.Inspect(ctx, name)
		if err != nil {
			if ctx.Err() != nil {
				return o.waitEnded(parent, s, app)
			}
			return fmt.Errorf("%s: inspect while waiting: %w", name, err)
		}
		if check.Kind() == health.KindExec && s.tracker.Status != health.StatusHealthy && first == nil {
			// The start gate: an exec check waits until no start is in flight (on a small node
			// a check run beside a burst of starts slows every start of it), at most until
			// StartedAt + MinUptime (when a guarded start is ready at the soonest).
			if !sleep(ctx, time.Until(obs.StartedAt.Add(minUptime)), o.starts.idle()) {
				return o.waitEnded(parent, s, app)
			}
		}
		passed, err := o.judge(ctx, s, check, runner, obs, first)
		first = nil
		if err != nil {
			if ctx.Err() != nil {
				return o.waitEnded(parent, s, app)
			}
			return err
		}
		wait := delay
		r := readiness{checked: check.Kind() != health.KindNone, guarded: guarded, passed: passed, startedAt: obs.StartedAt, minUptime: minUptime}
		if in, known := r.readyIn(time.Now()); known {
			if wait = in; wait <= 0 {
				verdict := runtime.HealthHealthy
				if !r.checked {
					verdict = runtime.HealthNone
				}
				o.publish(func() { s.seen = seen{runtime.StateRunning, verdict} })
				return nil
			}
		}
		if !sleep(ctx, wait, nil) {
			return o.waitEnded(parent, s, app)
		}
		delay = min(2*delay, time.Second)
	}
}

// interrupted is the error of an operation whose ctx ended: it wraps ErrInterrupted, ctx's
// error and its cause (e.g. reconciler.ErrShutdown).
func interrupted(ctx context.Context) error {
	if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
		return fmt.Errorf("%w (%w: %w)", ErrInterrupted, ctx.Err(), cause)
	}
	return fmt.Errorf("%w (%w)", ErrInterrupted, ctx.Err())
}

// errReadyTimeout is the cause of a readiness wait's context when its ReadyTimeout passed.
var errReadyTimeout = errors.New("ready timeout")

// waitEnded is the error of a readiness wait whose context ended: ErrNotReady when its
// ReadyTimeout passed, ErrInterrupted when the caller's context ended.
func (o *Orchestrator) waitEnded(parent context.Context, s *appState, app App) error {
	if parent.Err() != nil {
		return fmt.Errorf("%s: readiness wait abandoned, container left as it is: %w", s.spec.Name, interrupted(parent))
	}
	return o.notReady(s, fmt.Sprintf("not ready within %v", app.readyTimeout()))
}

// judge weighs one observation of a started app: its check passed now or earlier in this wait
// (or it has none), not yet (false, nil), or failed (it stopped running, or its check committed
// unhealthy). ran is the result of a check run since the last observation (nil: none, the
// check runs now).
func (o *Orchestrator) judge(ctx context.Context, s *appState, check health.Check, runner runtime.HealthRunner, obs runtime.Observation, ran *health.Result) (bool, error) {
	if obs.State != runtime.StateRunning {
		return false, o.notReady(s, fmt.Sprintf("container %s (exit code %d) after start", obs.State, obs.ExitCode))
	}
	if check.Kind() == health.KindNone || s.tracker.Status == health.StatusHealthy {
		return true, nil
	}
	var r health.Result
	switch {
	case ran != nil:
		r = *ran
	case check.Kind() == health.KindExec:
		h := obs.Health
		if runner != nil {
			var err error
			if h, err = runner.RunHealthCheck(ctx, s.spec.Name); err != nil {
				h = runtime.HealthUnhealthy
			}
		}
		r = health.Result(h == runtime.HealthHealthy)
	default:
		r, _ = o.opts.Prober(check).Probe(ctx)
	}
	s.tracker = s.tracker.Observe(check, obs.StartedAt, time.Now(), r)
	switch s.tracker.Status {
	case health.StatusUnhealthy:
		return false, o.notReady(s, "health check failed")
	case health.StatusHealthy:
		return true, nil
	}
	return false, nil
}

// sleep waits for d, or until early is closed (nil: never), and reports false when ctx ended
// first.
func sleep(ctx context.Context, d time.Duration, early <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-early:
	case <-t.C:
	}
	return true
}

func (o *Orchestrator) notReady(s *appState, why string) error {
	o.publish(func() { s.seen.health = runtime.HealthUnhealthy })
	return fmt.Errorf("%s: %s: %w", s.spec.Name, why, ErrNotReady)
}

// logTail returns the last lines of name's log when the runtime can read logs (none once ctx
// ended: a daemon shutting down does not wait for logs).
func (o *Orchestrator) logTail(ctx context.Context, name string) []string {
	lr, ok := o.rt.(runtime.LogReader)
	if !ok || ctx.Err() != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	lines, err := lr.Logs(ctx, name, 20)
	if err != nil {
		return nil
	}
	return lines
}
