package orchestrator

// Releases: how an app moves from one release (container spec) to the next without removing a
// working container before its replacement is ready, and how the outcome survives a restart of
// the daemon.
//
// An upgrade is the recreate of a managed container that runs and is ready (healthy, or
// without a check) because the desired spec changed. On a runtime.Renamer it goes:
//
//  1. the new image is made present (pulled when missing). When it cannot be had, nothing is
//     touched: the old container keeps running and the error wraps runtime.ErrImageNotFound;
//  2. the old container is renamed <app>.PREV and stopped: from here on the host holds the old
//     release exactly (environment and secrets included), whatever happens to the daemon;
//  3. the new container is created, started and waited for (ReadyTimeout): its check must pass
//     and it must stay running for MinUptime (a guarded start, see readiness);
//  4. ready: <app>.PREV is removed (the commit). Not ready: the failed container is stopped and
//     renamed <app>.FAILED, and <app>.PREV is renamed back and started (the rollback); the
//     error wraps ErrRolledBack (runtime.ErrRolledBack).
//
// <app>.FAILED is the durable record of the failure: its labels carry the failed spec's hash
// and image (never more than any container of the app carries), and its log stays readable
// (podman logs <app>.FAILED). While the desired spec's hash is the one it carries, the app is
// held on the release it runs: no pass tries the failed release again, every report carries
// AppReport.Rollback, and Effective names the spec the app runs on. A changed desired spec
// releases the hold and removes the record, as does an explicit Install (which, as for the
// crash-loop backoff, means "try now"). A daemon restarted with the failed spec still in its
// config finds the record and holds the app the same way.
//
// A daemon stopped between steps 2 and 4 leaves <app>.PREV behind; the next operation on the
// app finishes the upgrade: with the new container there it gives the verdict step 4 would have
// given (a context that ends during a readiness wait leaves things so on purpose: a shutdown is
// never taken for a failure), without it it restores <app>.PREV and the upgrade starts over.
// The killed daemon's stop of <app>.PREV may still be under way in the engine (podman finishes
// a stop whose client died; busybox httpd, say, ignores SIGTERM for StopTimeout): the restore
// waits it out before its start, so that it never ends the restored release. A container of
// another release that ended (stopped, exited, stopping) with no FAILED verdict on the desired
// spec is taken for the last good release too (a restore interrupted in turn, or ended by that
// late stop): it is started and, once ready, upgraded through steps 1 to 4, never recreated
// onto the desired release outright; so a daemon restarted with a failing release in its
// config rolls back and holds in every crash window of an upgrade (crash_test.go). Only when it
// does not become ready is it replaced as any broken container is.
// The records' names have upper-case letters, which app names cannot have, so they never clash
// with an app's container. Uninstall removes them.
//
// A moved tag (the spec unchanged, its tag now names another image than the container runs:
// TagMoved, tags.go) is an upgrade too, through the same steps. Its FAILED record runs the
// image the tag moved to: while the tag still names that image the app is held, in a restarted
// daemon too (Rollback.TagHold); the tag moving again, or a changed spec, releases the hold.
// After a committed upgrade the images no container uses any more are pruned (prune.go).
//
// On a runtime that is not a runtime.Renamer an upgrade is steps 1 and 3 only: the old
// container is removed after the image check, and a failed upgrade is not rolled back.

import (
	"context"
	"errors"
	"fmt"

	"github.com/skerry-dev/skerry/runtime"
)

// The suffixes of an app's release records.
const (
	prevSuffix   = ".PREV"
	failedSuffix = ".FAILED"
)

// Labels of a container created by an upgrade: the image and spec hash of the release it
// replaced. A FAILED record keeps them, so that a restarted daemon knows what the app was held on
// even when that container is gone (and, when only the image differed, recreates it).
const (
	labelPrevImage = "io.skerry.previous-image"
	labelPrevHash  = "io.skerry.previous-spec-hash"
)

// records are an app's release records as last observed. known is false until a List call
// showed them (every pass's does) or the app was looked up.
type records struct {
	known  bool
	prev   *runtime.Observation
	failed *runtime.Observation
}

// recordOf reports whether obs is a release record, whose app, and which.
func recordOf(obs runtime.Observation) (app string, prev, ok bool) {
	app = obs.App()
	switch {
	case app == "":
		return "", false, false
	case obs.Name == app+prevSuffix:
		return app, true, true
	case obs.Name == app+failedSuffix:
		return app, false, true
	}
	return "", false, false
}

// add records obs, a record of the app.
func (r *records) add(obs runtime.Observation, prev bool) {
	if prev {
		r.prev = &obs
	} else {
		r.failed = &obs
	}
}

// lookRecords lists the app's records. The caller holds s.lock.
func (o *Orchestrator) lookRecords(ctx context.Context, s *appState) error {
	list, err := o.rt.List(ctx, runtime.ListOptions{Labels: map[string]string{runtime.LabelManaged: "true", runtime.LabelApp: s.spec.Name}})
	if err != nil {
		return fmt.Errorf("list the release records of %s: %w", s.spec.Name, err)
	}
	recs := records{known: true}
	for _, obs := range list {
		if app, prev, ok := recordOf(obs); ok && app == s.spec.Name {
			recs.add(obs, prev)
		}
	}
	o.publish(func() { s.recs = recs })
	return nil
}

// settleHold decides whether the app is held, from its records and the observation of its
// container, and removes a FAILED record that no longer holds anything. The caller holds s.lock.
//
// A hold from a moved tag (Rollback.TagHold) is on image IDs: it lasts while the tag (as last
// resolved) names the FAILED record's image and the container runs another; a restarted daemon
// finds it the same way. While the tag is not resolved (yet), such a record is kept.
func (o *Orchestrator) settleHold(ctx context.Context, s *appState, obs runtime.Observation, explicit bool) {
	want := s.spec.Labels[runtime.LabelSpecHash]
	tag := o.tags.ID(s.spec.Image)
	failed := s.recs.failed
	tagFailure := failed != nil && failed.ImageID != "" && failed.SpecHash() == want && obs.SpecHash() == want &&
		obs.ImageID != "" && obs.ImageID != failed.ImageID
	missing := obs.State == runtime.StateMissing
	other := !missing && obs.Managed() && obs.SpecHash() != want
	wedged := obs.State != runtime.StateRunning && obs.State != runtime.StateStopped && obs.State != runtime.StateExited
	var h *hold
	switch {
	case !s.desired || explicit:
	case s.hold != nil && s.hold.FailedHash == want && (obs.SpecHash() == s.hold.Hash || missing) &&
		!(s.hold.TagHold() && tag != "" && tag != s.hold.FailedImageID):
		h = s.hold
	case tagFailure && tag == failed.ImageID:
		h = &hold{Rollback: Rollback{FailedImage: failed.Image, FailedImageID: failed.ImageID, FailedHash: want,
			Image: obs.Image, ImageID: obs.ImageID, Hash: want}}
		h.good = o.goodFor(s, obs)
	case s.recs.failed != nil && s.recs.failed.SpecHash() == want && (other || missing):
		on := obs
		if missing { // the release it was held on, as the failed one's labels name it
			l := s.recs.failed.Labels
			on = runtime.Observation{Image: l[labelPrevImage], Labels: map[string]string{runtime.LabelSpecHash: l[labelPrevHash]}}
		}
		if on.SpecHash() != "" && on.SpecHash() != want { // (equal: a moved tag's; nothing to hold on)
			h = &hold{Rollback: Rollback{FailedImage: s.recs.failed.Image, FailedHash: want, Image: on.Image, Hash: on.SpecHash(),
				FailedImageID: s.recs.failed.ImageID, ImageID: on.ImageID}}
			h.good = o.goodFor(s, on)
		}
	}
	if h != nil && h.good == nil && wedged {
		// Held on a container that is gone or must be recreated, from a spec this process does
		// not know: there is nothing left to hold on.
		h = nil
	}
	if h == nil && s.hold != nil {
		o.log.Info("hold released", "app", s.spec.Name, "failed", s.hold.FailedImage)
	}
	o.publish(func() { s.hold = h })
	if h == nil && s.desired && s.recs.failed != nil && !(tagFailure && tag == "") {
		o.removeRecord(ctx, s, false)
	}
}

// goodFor returns the App of the release obs runs, when known: the last App proven in this
// process, or the desired App with obs's image if that gives obs's spec hash.
func (o *Orchestrator) goodFor(s *appState, obs runtime.Observation) *App {
	if s.good != nil && o.specOf(*s.good).Labels[runtime.LabelSpecHash] == obs.SpecHash() {
		good := *s.good
		return &good
	}
	guess := s.app
	guess.Container.Image = obs.Image
	if o.specOf(guess).Labels[runtime.LabelSpecHash] == obs.SpecHash() {
		return &guess
	}
	return nil
}

// removeRecord removes the app's PREV (prev) or FAILED record. A failure is logged: the record
// stays known and the next operation tries again.
func (o *Orchestrator) removeRecord(ctx context.Context, s *appState, prev bool) error {
	name := s.spec.Name + failedSuffix
	if prev {
		name = s.spec.Name + prevSuffix
	}
	err := o.rt.Remove(ctx, name, runtime.RemoveOptions{Force: true})
	if err != nil && !errors.Is(err, runtime.ErrNotFound) {
		o.log.Warn("could not remove a release record", "app", s.spec.Name, "record", name, "err", err)
		return wrap("remove", name, err)
	}
	o.publish(func() {
		if prev {
			s.recs.prev = nil
		} else {
			s.recs.failed = nil
		}
	})
	if !prev {
		o.pruneDue() // its image may be unused now
	}
	return nil
}

// working reports whether obs shows a container that runs and is ready: one an upgrade keeps.
func working(obs runtime.Observation, h runtime.Health) bool {
	return obs.State == runtime.StateRunning && (h == runtime.HealthHealthy || h == runtime.HealthNone)
}

// ended reports whether obs shows a container that ran and ended (stopped, exited) or is ending
// (stopping: a stop a killed daemon asked for, which the engine finishes): of another
// release than the desired one and with no FAILED verdict on the desired one, it is taken for the
// last good release (a release that a restore left stopped, or whose stop a killed daemon asked
// for and the engine finished later), which an upgrade keeps.
func ended(obs runtime.Observation) bool {
	return obs.State == runtime.StateExited || obs.State == runtime.StateStopped || obs.State == runtime.StateStopping
}

// revive is the recreate of a container (old) of another release that ended: it is started
// again and, once ready, upgraded (steps 1 to 4 above: a failed release is rolled back and held,
// also in a daemon restarted with it in its config). When it does not become ready it is no
// working release: it is replaced as any broken container is. The caller holds s.lock.
func (o *Orchestrator) revive(ctx context.Context, s *appState, ren runtime.Renamer, old runtime.Observation, rep *AppReport) error {
	name := s.spec.Name
	target := s.app
	if good := o.goodFor(s, old); good != nil {
		target = *good
	}
	var err error
	if old.State == runtime.StateStopping { // waited out, as restorePrev does
		err = wrap("stop", name, o.rt.Stop(ctx, name, s.spec.StopTimeout))
	}
	if err == nil {
		err = o.starting(func() error { return wrap("start", name, o.rt.Start(ctx, name)) })
	}
	if err == nil {
		s.tracker = s.tracker.Reset()
		err = o.waitReady(ctx, s, target, guardedStart)
	}
	if err == nil {
		if old, err = o.observe(ctx, name); err == nil && old.State == runtime.StateRunning {
			rep.Reason += "; the release it ran is back, upgrading from it"
			return o.upgrade(ctx, s, ren, old, rep)
		}
	}
	if ctx.Err() != nil {
		return err
	}
	o.log.Info("the ended release does not come back; replacing it", "app", name, "err", err)
	if err := o.execute(ctx, s, s.app, ActionRecreate, runtime.StateExited); err != nil {
		return err
	}
	return o.waitReady(ctx, s, s.app, freshStart)
}

// upgrade moves a working container (old) to the desired spec, steps 1 to 4 above. The caller
// holds s.lock.
func (o *Orchestrator) upgrade(ctx context.Context, s *appState, ren runtime.Renamer, old runtime.Observation, rep *AppReport) error {
	name := s.spec.Name
	if err := o.ensureImage(ctx, s.app, s.spec); err != nil {
		rep.Reason = fmt.Sprintf("upgrade to %s not started: its image is not available; %s keeps running", s.spec.Image, old.Image)
		return fmt.Errorf("%w; %s keeps running", err, old.Image)
	}
	vols, err := o.prepareSnapshot(ctx, s)
	if err != nil {
		rep.Reason = fmt.Sprintf("upgrade to %s not started: %v; %s keeps running", s.spec.Image, err, old.Image)
		return fmt.Errorf("%w; %s keeps running", err, old.Image)
	}
	if err := ren.Rename(ctx, name, name+prevSuffix); err != nil {
		return wrap("keep the previous release of", name, err)
	}
	kept := old
	kept.Name = name + prevSuffix
	o.publish(func() { s.recs.prev = &kept })
	if err := o.rt.Stop(ctx, kept.Name, s.spec.StopTimeout); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return wrap("stop", kept.Name, err) // PREV still runs: the next operation restores it
	}
	if err := o.snapshotVolumes(ctx, s, ren, kept, vols, rep); err != nil {
		return err
	}
	spec := o.specOf(s.app)
	spec.Labels[labelPrevImage], spec.Labels[labelPrevHash] = old.Image, old.SpecHash()
	err = o.starting(func() error { return o.createAndStart(ctx, s, s.app, spec) })
	if err == nil {
		err = o.waitReady(ctx, s, s.app, guardedStart)
	}
	return o.verdict(ctx, s, ren, err, rep)
}

// finishUpgrade completes an upgrade that a previous operation (or daemon) left with its PREV
// record: the verdict on the new container when it was started, else the PREV release restored
// (and the upgrade starts over).
// It returns the app's container as it is afterwards.
func (o *Orchestrator) finishUpgrade(ctx context.Context, s *appState, ren runtime.Renamer, obs runtime.Observation, rep *AppReport) (runtime.Observation, error) {
	name := s.spec.Name
	var err error
	if obs.State == runtime.StateCreated && obs.StartedAt.IsZero() {
		// Created, never started: the upgrade was interrupted before its start, which is no
		// verdict on the release. It starts over from the previous release.
		if err := o.rt.Remove(ctx, name, runtime.RemoveOptions{Force: true}); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			return obs, wrap("remove", name, err)
		}
		obs = runtime.Missing(name)
	}
	if obs.State == runtime.StateMissing {
		rep.Action, rep.Reason = ActionStart, "restoring the previous release an interrupted upgrade left"
		err = o.restorePrev(ctx, s, ren)
	} else {
		rep.Action, rep.Reason = ActionWait, "judging the release an interrupted upgrade started"
		err = o.verdict(ctx, s, ren, o.waitReady(ctx, s, s.app, guardedStart), rep)
	}
	o.publish(func() { s.generation++ })
	if err != nil {
		return obs, err
	}
	return o.observe(ctx, name)
}

// ensureImage makes spec's image present: pulled when missing. Its error wraps
// runtime.ErrImageNotFound when the image cannot be had.
func (o *Orchestrator) ensureImage(ctx context.Context, app App, spec runtime.ContainerSpec) error {
	ok, err := o.rt.ImageExists(ctx, spec.Image)
	if err != nil {
		return fmt.Errorf("%s: look for image %s: %w", app.Name, spec.Image, err)
	}
	if ok {
		return nil
	}
	o.log.Info("pulling missing image", "app", app.Name, "image", spec.Image)
	opts := runtime.PullOptions{Insecure: app.InsecurePull}
	if on := o.opts.OnPull; on != nil {
		last := runtime.PullProgress{Ref: spec.Image, Bytes: -1}
		on(app.Name, last, false)
		opts.Progress = func(p runtime.PullProgress) { last = p; on(app.Name, p, false) }
		defer func() { on(app.Name, last, true) }()
	}
	if err := o.rt.Pull(ctx, spec.Image, opts); err != nil {
		if errors.Is(err, runtime.ErrImageNotFound) {
			return fmt.Errorf("%s: image %s is not present and cannot be pulled: %w", app.Name, spec.Image, err)
		}
		return fmt.Errorf("%s: image %s is not present and cannot be pulled: %w: %w", app.Name, spec.Image, runtime.ErrImageNotFound, err)
	}
	o.tags.Stale(spec.Image)
	return nil
}
