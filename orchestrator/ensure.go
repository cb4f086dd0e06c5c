package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/skerry-dev/skerry/runtime"
)

// ensure observes (unless obs is given), decides and acts for one app. recs are the app's
// release records from a pass's List call (nil: what s remembers, looked up when needed). The
// caller holds s.lock. explicit marks a user's Install/EnsureRunning/Uninstall: backoff and
// holds are reset, dependencies are observed afresh, waiting is an error, and companions are
// installed even when the app needed nothing.
func (o *Orchestrator) ensure(ctx context.Context, s *appState, obs *runtime.Observation, recs *records, explicit bool) (rep AppReport, err error) {
	start := time.Now()
	name := s.spec.Name
	rep = AppReport{App: name}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: panic: %v", name, p)
			rep.Err = err
			o.log.Error("panic while reconciling app", "app", name, "panic", p)
		}
		if err != nil && ctx.Err() != nil {
			// Never a verdict: what was done is left as it is for the next operation.
			if !errors.Is(err, ErrInterrupted) {
				err = fmt.Errorf("%s: %w: %w", name, interrupted(ctx), err)
			}
			rep.Err, rep.Reason = err, "interrupted: "+rep.Reason
		}
		o.mu.Lock()
		if s.hold != nil {
			r := s.hold.Rollback
			rep.Rollback = &r
		}
		o.mu.Unlock()
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
	if s.desired {
		o.resolveTag(ctx, s.spec.Image, explicit, false)
	}
	if obs == nil {
		fresh, err := o.observe(ctx, name)
		if err != nil {
			rep.Reason, rep.Err = "observe failed", err
			return rep, err
		}
		obs = &fresh
	}
	if err := o.settleRecords(ctx, s, obs, recs, explicit, &rep); err != nil {
		rep.Err = err
		if rep.Logs == nil {
			rep.Logs = o.logTail(ctx, name)
		}
		return rep, err
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
			rep.Logs = o.logTail(ctx, name)
		}
		o.log.Warn("app not converged", "app", name, "action", d.Action.String(), "err", err)
	}
	return rep, err
}

// settleRecords brings the app's release records up to date (looking them up when they matter
// and are not known), finishes an upgrade a previous operation left (updating *obs), and
// settles the app's hold.
func (o *Orchestrator) settleRecords(ctx context.Context, s *appState, obs *runtime.Observation, recs *records, explicit bool, rep *AppReport) error {
	if recs != nil {
		o.publish(func() { s.recs = *recs })
	}
	// Looked up when they matter and are not known, and always for an uninstall outside a pass
	// (whatever this process remembers, nothing of the app may be left).
	drift := obs.Managed() && obs.SpecHash() != s.spec.Labels[runtime.LabelSpecHash]
	if (!s.recs.known && (obs.State == runtime.StateMissing || drift)) || (!s.desired && recs == nil) {
		if err := o.lookRecords(ctx, s); err != nil {
			return err
		}
	}
	if ren, ok := o.rt.(runtime.Renamer); ok && s.recs.prev != nil && s.desired {
		fresh, err := o.finishUpgrade(ctx, s, ren, *obs, rep)
		if err != nil {
			return err
		}
		*obs = fresh
	}
	o.settleHold(ctx, s, *obs, explicit)
	return nil
}

// decideAndAct runs Decide on obs and carries out its decision, filling rep.
func (o *Orchestrator) decideAndAct(ctx context.Context, s *appState, obs runtime.Observation, hookChanged, explicit bool, rep *AppReport) (Decision, error) {
	name := s.spec.Name
	now := time.Now()
	// target is the release the app is kept on: the desired one, or the one it is held on.
	target, specHash, failedImageID := s.app, s.spec.Labels[runtime.LabelSpecHash], ""
	if s.hold != nil {
		specHash, failedImageID = s.hold.Hash, s.hold.FailedImageID
		if s.hold.good != nil {
			target = *s.hold.good
		}
	}
	h := o.currentHealth(ctx, s, obs, now)
	s.backoff = s.backoff.Settle(obs, h, now)
	waitingFor, stopWith := o.waitingFor(s)
	if explicit {
		var err error
		if waitingFor, stopWith, err = o.waitingForFresh(ctx, s); err != nil {
			return Decision{}, err
		}
	}
	f := Facts{
		Desired: s.desired, SpecHash: specHash, Image: target.Container.Image,
		ImageID: o.tags.ID(target.Container.Image), FailedImageID: failedImageID,
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
			if err := o.removeLeftovers(ctx, s); err != nil {
				return d, err
			}
			o.forget(s)
		} else if f.Observed.State == runtime.StateRunning && (h == runtime.HealthHealthy || h == runtime.HealthNone) {
			if s.hold == nil {
				s.markGood(s.app)
			}
		}
		if s.hold != nil && s.desired {
			rep.Reason = d.Reason + "; " + s.hold.String()
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
			return d, o.waitReady(ctx, s, target, freshStart)
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
	var err error
	ren, renames := o.rt.(runtime.Renamer)
	upgrade := d.Action == ActionRecreate && !f.Foreign && s.desired && !o.inputsOnly(s, obs)
	switch {
	case upgrade && renames && working(obs, h):
		err = o.upgrade(ctx, s, ren, obs, rep)
	case upgrade && renames && s.hold == nil && ended(obs) && (obs.SpecHash() != specHash || TagMoved(f)):
		err = o.revive(ctx, s, ren, obs, rep)
	default:
		err = o.execute(ctx, s, target, d.Action, obs.State)
		if err == nil && d.Action.Starts() {
			err = o.waitReady(ctx, s, target, freshStart)
		}
	}
	// Bumped after the action: a pass whose List ran during it sees the generation move and
	// re-inspects instead of acting on a stale observation.
	o.publish(func() { s.generation++ })
	if err == nil && d.Action.Starts() {
		if s.hold == nil {
			s.markGood(s.app)
		}
		o.watchRunning(s)
	}
	return d, err
}

// markGood records the running release as proven: a copy of its App, since s.app is replaced
// by the next Install.
func (s *appState) markGood(app App) {
	s.good = &app
}

// execute carries out a non-trivial action, with app as the release to create.
func (o *Orchestrator) execute(ctx context.Context, s *appState, app App, a Action, observed runtime.State) error {
	name := s.spec.Name
	switch a {
	case ActionCreate:
		return o.starting(func() error { return o.createAndStart(ctx, s, app, o.specOf(app)) })
	case ActionStart:
		return o.starting(func() error { return wrap("start", name, o.rt.Start(ctx, name)) })
	case ActionRestart:
		if err := o.rt.Stop(ctx, name, s.spec.StopTimeout); err != nil {
			return wrap("stop", name, err)
		}
		return o.starting(func() error { return wrap("start", name, o.rt.Start(ctx, name)) })
	case ActionRecreate:
		// Nothing is removed before the new release's image is there.
		if err := o.ensureImage(ctx, app, o.specOf(app)); err != nil {
			return err
		}
		if err := o.rt.Remove(ctx, name, runtime.RemoveOptions{Force: true}); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			return wrap("remove", name, err)
		}
		return o.starting(func() error { return o.createAndStart(ctx, s, app, o.specOf(app)) })
	case ActionStop:
		return wrap("stop", name, o.rt.Stop(ctx, name, s.spec.StopTimeout))
	case ActionRemove:
		if err := o.removeLeftovers(ctx, s); err != nil {
			return err
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

// removeLeftovers is the part of an uninstall that does not depend on the app's container
// being there: its companions are disabled and removed (so that systemd cannot respawn them
// against a missing app), then its release records.
func (o *Orchestrator) removeLeftovers(ctx context.Context, s *appState) error {
	name := s.spec.Name
	if o.opts.Companions != nil {
		if err := o.opts.Companions.Remove(ctx, name); err != nil {
			return fmt.Errorf("disable companions of %s: %w", name, err)
		}
	}
	for _, prev := range []bool{true, false} {
		if (prev && s.recs.prev != nil) || (!prev && s.recs.failed != nil) {
			if err := o.removeRecord(ctx, s, prev); err != nil {
				return err
			}
		}
	}
	o.dropSnapshot(s) // its PREV record is gone: it can never be restored
	o.publish(func() { s.hold = nil })
	return nil
}

// starting runs f, an action that starts a container, counted in o.starts.
func (o *Orchestrator) starting(f func() error) error {
	o.starts.begin()
	defer o.starts.end()
	return f()
}

// createAndStart creates the networks app owns that are missing, then the container spec of app
// (pulling its image when missing), and starts it.
func (o *Orchestrator) createAndStart(ctx context.Context, s *appState, app App, spec runtime.ContainerSpec) error {
	name := s.spec.Name
	if err := o.ensureNetworks(ctx, app); err != nil {
		return err
	}
	err := o.rt.Create(ctx, spec)
	if errors.Is(err, runtime.ErrImageNotFound) {
		if err := o.ensureImage(ctx, app, spec); err != nil {
			return err
		}
		err = o.rt.Create(ctx, spec)
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
