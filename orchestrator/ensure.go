package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/skerry-dev/skerry/runtime"
)

// ensure observes (unless obs is given), decides and acts for one app. The caller holds s.lock.
// explicit marks a user's Install/EnsureRunning/Uninstall: backoff is reset, waiting is an
// error, and companions are installed even when the app needed nothing.
func (o *Orchestrator) ensure(ctx context.Context, s *appState, obs *runtime.Observation, explicit bool) (rep AppReport, err error) {
	start := time.Now()
	name := s.spec.Name
	rep = AppReport{App: name}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: panic: %v", name, p)
			rep.Err = err
			o.log.Error("panic while reconciling app", "app", name, "panic", p)
		}
		rep.Duration = time.Since(start)
	}()
	if explicit {
		s.backoff = Backoff{}
	}
	hookChanged, companionInputs := false, false
	if s.desired {
		if hookChanged, companionInputs, rep.Inputs, err = o.prepare(ctx, s); err != nil {
			rep.Reason, rep.Err = "secrets or pre-start hooks failed", err
			return rep, fmt.Errorf("%s: %w", name, err)
		}
	}
	if obs == nil {
		fresh, err := o.observe(ctx, name)
		if err != nil {
			rep.Reason, rep.Err = "observe failed", err
			return rep, err
		}
		obs = &fresh
	}
	var d Decision
	for attempt := 0; ; attempt++ {
		d, err = o.decideAndAct(ctx, s, *obs, hookChanged, explicit, &rep)
		// A create that met an existing container acted on a stale (or label-filtered)
		// observation: look again and decide once more.
		if attempt > 0 || d.Action != ActionCreate || !errors.Is(err, runtime.ErrAlreadyExists) {
			break
		}
		fresh, oerr := o.observe(ctx, name)
		if oerr != nil {
			err = oerr
			break
		}
		obs = &fresh
	}
	if err == nil && d.Action == ActionRemove {
		o.forget(s)
	}
	companionsDue := explicit || d.Action.Starts() || companionInputs
	if err == nil && s.desired && companionsDue && d.Action != ActionStop && o.opts.Companions != nil {
		if err = o.opts.Companions.Install(ctx, name); err != nil {
			err = fmt.Errorf("companions of %s: %w", name, err)
		}
	}
	if err != nil {
		rep.Err = err
		if rep.Logs == nil {
			rep.Logs = o.logTail(name)
		}
		o.log.Warn("app not converged", "app", name, "action", d.Action.String(), "err", err)
	}
	return rep, err
}

// decideAndAct runs Decide on obs and carries out its decision, filling rep.
func (o *Orchestrator) decideAndAct(ctx context.Context, s *appState, obs runtime.Observation, hookChanged, explicit bool, rep *AppReport) (Decision, error) {
	name := s.spec.Name
	now := time.Now()
	h := o.currentHealth(ctx, s, obs, now)
	s.backoff = s.backoff.Settle(obs, h, now)
	waitingFor, stopWith := o.waitingFor(s)
	f := Facts{
		Desired: s.desired, SpecHash: s.spec.Labels[runtime.LabelSpecHash],
		Observed: obs, Health: h, HookChanged: hookChanged,
		WaitingFor: waitingFor, StopWith: stopWith, Backoff: s.backoff, Now: now,
		Foreign: obs.State != runtime.StateMissing && !obs.Managed(),
	}
	if f.Foreign {
		f.AdoptBlocker = AdoptionBlocker(s.spec, obs)
	}
	d := Decide(f)
	rep.Observed, rep.Health, rep.Action, rep.Reason, rep.NotBefore = obs.State, h, d.Action, d.Reason, d.NotBefore
	o.publish(func() { s.seen = seen{obs.State, h} })

	switch d.Action {
	case ActionNone:
		if !s.desired {
			o.forget(s)
		} else if f.Observed.State == runtime.StateRunning && (h == runtime.HealthHealthy || h == runtime.HealthNone) {
			s.markGood()
		}
		if obs.State == runtime.StateRunning {
			o.watchRunning(s)
		}
		return d, nil
	case ActionConflict:
		return d, fmt.Errorf("%s: %s: %w", name, d.Reason, ErrConflict)
	case ActionWait:
		if obs.State == runtime.StateRunning {
			// Running with no verdict yet: the watches give it one (a scheduled check) or
			// see it end.
			o.watchRunning(s)
		}
		if explicit && h == runtime.HealthStarting {
			// An explicit Install of an app whose health is starting waits for the verdict.
			return d, o.waitReady(ctx, s)
		}
		if explicit {
			return d, fmt.Errorf("%s: %s: %w", name, d.Reason, ErrWaiting)
		}
		return d, nil
	}
	if d.CountsAsRetry {
		s.backoff = s.backoff.Retried(now)
	}
	o.log.Info("acting", "app", name, "observed", obs.State.String(), "health", h.String(), "action", d.Action.String(), "reason", d.Reason)
	upgrade := d.Action == ActionRecreate && !f.Foreign && s.lastGood != nil &&
		o.specOf(*s.lastGood).Labels[runtime.LabelSpecHash] != f.SpecHash
	err := o.execute(ctx, s, d.Action, obs.State)
	// Bumped after the action: a pass whose List ran during it sees the generation move and
	// re-inspects instead of acting on a stale observation.
	o.publish(func() { s.generation++ })
	if err == nil && d.Action.Starts() {
		err = o.waitReady(ctx, s)
	}
	if err == nil && d.Action.Starts() {
		s.markGood()
		o.watchRunning(s)
	}
	if err != nil && upgrade {
		err = o.rollback(ctx, s, err, rep)
	}
	return d, err
}

// markGood records the current spec as proven: a copy, since s.app is replaced by the next
// Install.
func (s *appState) markGood() {
	good := s.app
	s.lastGood = &good
}

// rollback puts an app whose upgrade failed back on its last good spec: the failed
// container's log tail goes into rep, the desired spec reverts (so later passes do not retry
// the upgrade), the container is recreated from the old spec. Volumes are untouched.
func (o *Orchestrator) rollback(ctx context.Context, s *appState, cause error, rep *AppReport) error {
	name := s.spec.Name
	rep.Logs = o.logTail(name)
	failed := s.spec.Labels[runtime.LabelSpecHash]
	good := *s.lastGood
	o.publish(func() { s.app, s.spec = good, o.specOf(good) })
	o.log.Warn("upgrade failed; rolling back", "app", name, "from", failed, "to", s.spec.Labels[runtime.LabelSpecHash], "err", cause)
	rep.Reason = "upgrade failed, rolled back to the last good spec"
	err := o.execute(ctx, s, ActionRecreate, runtime.StateUnknown)
	if err == nil {
		err = o.waitReady(ctx, s)
	}
	o.publish(func() { s.generation++ })
	if err != nil {
		return fmt.Errorf("%s: upgrade to %s failed (%w), and so did the rollback: %w", name, failed, cause, err)
	}
	return fmt.Errorf("%s: upgrade to %s failed (%w); back on %s: %w", name, failed, cause, s.spec.Labels[runtime.LabelSpecHash], ErrRolledBack)
}

// execute carries out a non-trivial action.
func (o *Orchestrator) execute(ctx context.Context, s *appState, a Action, observed runtime.State) error {
	name := s.spec.Name
	if a.Starts() {
		o.starts.begin()
		defer o.starts.end()
	}
	switch a {
	case ActionCreate:
		return o.createAndStart(ctx, s)
	case ActionStart:
		return wrap("start", name, o.rt.Start(ctx, name))
	case ActionRestart:
		if err := o.rt.Stop(ctx, name, s.spec.StopTimeout); err != nil {
			return wrap("stop", name, err)
		}
		return wrap("start", name, o.rt.Start(ctx, name))
	case ActionRecreate:
		if err := o.rt.Remove(ctx, name, runtime.RemoveOptions{Force: true}); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			return wrap("remove", name, err)
		}
		return o.createAndStart(ctx, s)
	case ActionStop:
		return wrap("stop", name, o.rt.Stop(ctx, name, s.spec.StopTimeout))
	case ActionRemove:
		if o.opts.Companions != nil {
			if err := o.opts.Companions.Remove(ctx, name); err != nil {
				return fmt.Errorf("disable companions of %s: %w", name, err)
			}
		}
		if observed == runtime.StateRunning || observed == runtime.StateStopping || observed == runtime.StatePaused {
			if err := o.rt.Stop(ctx, name, s.spec.StopTimeout); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				o.log.Warn("stop before remove failed; removing by force", "app", name, "err", err)
			}
		}
		err := o.rt.Remove(ctx, name, runtime.RemoveOptions{Force: true, Volumes: s.purge})
		if errors.Is(err, runtime.ErrNotFound) {
			return nil
		}
		return wrap("remove", name, err)
	}
	return fmt.Errorf("execute %s: unexpected action %s", name, a)
}

func (o *Orchestrator) createAndStart(ctx context.Context, s *appState) error {
	name := s.spec.Name
	err := o.rt.Create(ctx, s.spec)
	if errors.Is(err, runtime.ErrImageNotFound) {
		o.log.Info("pulling missing image", "app", name, "image", s.spec.Image)
		if err := o.rt.Pull(ctx, s.spec.Image, runtime.PullOptions{Insecure: s.app.InsecurePull}); err != nil {
			return wrap("pull image for", name, err)
		}
		err = o.rt.Create(ctx, s.spec)
	}
	if err != nil {
		return wrap("create", name, err)
	}
	s.tracker = s.tracker.Reset()
	return wrap("start", name, o.rt.Start(ctx, name))
}

func wrap(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s: %w", op, name, err)
}
