package orchestrator

import (
	"context"
	"errors"
	"fmt"

	"github.com/skerry-dev/skerry/runtime"
)

// Rollback says that an app runs its last good release because its desired release did not
// come up. It lasts until the desired spec changes or an explicit Install tries the release
// again, across restarts of the daemon.
//
// An upgrade (a changed spec) first makes the new image present, then keeps the old container,
// renamed <app>.PREV and stopped, until the new one is ready; if it does not become ready, the
// new container is stopped and kept as <app>.FAILED, and <app>.PREV is renamed back and
// started. <app>.FAILED is the record of the rollback on the host: its labels carry the failed
// spec's hash and image (its log shows why), so a daemon restarted with the failed spec still
// desired holds the app instead of trying it again. A daemon stopped in the middle of an
// upgrade leaves <app>.PREV; the next operation on the app finishes the upgrade.
type Rollback struct {
	// FailedImage and FailedHash name the release that did not come up (the desired spec's
	// image and runtime.SpecHash).
	FailedImage, FailedHash string
	// Image and Hash name the release the app runs instead.
	Image, Hash string
	// FailedImageID and ImageID are the image IDs of the two releases ("" when not known).
	// When the hashes are equal, the release that failed is the image a moved tag named (see
	// TagMoved): the hold lasts until the tag moves again (to another image) or the desired
	// spec changes. The FAILED record runs that image, which is how a restarted daemon knows.
	FailedImageID, ImageID string
}

// TagHold reports whether the rollback is from a moved tag's image, the spec unchanged.
func (r Rollback) TagHold() bool {
	return r.FailedHash == r.Hash && r.FailedImageID != ""
}

func (r Rollback) String() string {
	if r.TagHold() {
		return fmt.Sprintf("rolled back from %s (image %s), held on image %s until the tag or the desired spec changes", r.FailedImage, shortID(r.FailedImageID), shortID(r.ImageID))
	}
	return fmt.Sprintf("rolled back from %s (spec %s), held on %s until the desired spec changes", r.FailedImage, r.FailedHash, r.Image)
}

// hold is an app's rollback with the App of the release it is held on, when known: this
// process proved it, or it is the desired App with the running image (verified by its hash).
type hold struct {
	Rollback
	good *App
}

// Held reports whether the app is held on its last good release after a failed upgrade, and
// which releases.
func (o *Orchestrator) Held(name string) (Rollback, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.apps[name]
	if s == nil || s.hold == nil {
		return Rollback{}, false
	}
	return s.hold.Rollback, true
}

// Effective returns the spec the orchestrator keeps the app on: the desired App, or while the
// app is held (see Held) the App of the release it runs. ok is false when the app is not
// registered, or when it is held on a release whose App this process does not know (a daemon
// restarted after a rollback whose release differs from the desired one in more than its
// image); Held names that release's image then.
func (o *Orchestrator) Effective(name string) (app App, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.apps[name]
	switch {
	case s == nil || !s.desired:
		return App{}, false
	case s.hold == nil:
		return s.app, true
	case s.hold.good != nil:
		return *s.hold.good, true
	}
	return App{}, false
}

// verdict ends an upgrade whose new container's readiness wait returned err: commit, leave it
// (the context ended: the next operation judges again), or roll back.
func (o *Orchestrator) verdict(ctx context.Context, s *appState, ren runtime.Renamer, err error, rep *AppReport) error {
	if err == nil {
		if rerr := o.removeRecord(ctx, s, true); rerr != nil {
			return nil // ready; the next operation finds PREV, judges the app ready again and retries
		}
		o.dropSnapshot(s)
		o.pruneDue()
		if s.recs.failed != nil {
			o.removeRecord(ctx, s, false)
		}
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	return o.rollback(ctx, s, ren, err, rep)
}

// rollback keeps the failed release as the FAILED record, puts PREV back and holds the app on
// it. The caller holds s.lock.
func (o *Orchestrator) rollback(ctx context.Context, s *appState, ren runtime.Renamer, cause error, rep *AppReport) error {
	name := s.spec.Name
	if s.recs.prev == nil { // nothing to go back to (removed behind skerry's back)
		return cause
	}
	rep.Logs = o.logTail(ctx, name)
	failed, err := o.observe(ctx, name)
	if err != nil {
		return fmt.Errorf("%s: upgrade failed (%w), and so did the rollback: %w", name, cause, err)
	}
	if failed.State == runtime.StateMissing { // it was never created: no record to keep
		failed.Image, failed.Labels = s.spec.Image, s.spec.Labels
	}
	good := *s.recs.prev
	from, to := releaseNames(failed, good)
	o.log.Warn("upgrade failed; rolling back", "app", name, "from", from, "to", to, "err", cause)
	rep.Reason = fmt.Sprintf("upgrade to %s failed, rolled back to %s", from, to)
	if err := o.keepFailed(ctx, s, ren, failed); err != nil {
		return fmt.Errorf("%s: upgrade to %s failed (%w), and so did the rollback to %s: %w", name, from, cause, to, err)
	}
	if err := o.restorePrev(ctx, s, ren); err != nil {
		return fmt.Errorf("%s: upgrade to %s failed (%w), and so did the rollback to %s: %w", name, from, cause, to, err)
	}
	good.Name = name
	h := &hold{Rollback: Rollback{FailedImage: failed.Image, FailedHash: failed.SpecHash(), Image: good.Image, Hash: good.SpecHash(),
		FailedImageID: failed.ImageID, ImageID: good.ImageID}}
	h.good = o.goodFor(s, good)
	o.publish(func() { s.hold = h })
	return fmt.Errorf("%s: upgrade to %s failed (%w); back on %s: %w", name, from, cause, to, ErrRolledBack)
}

// releaseNames names two releases for a user: by image, with the spec hash when the images are
// the same (a change of command, environment, ...), with the image ID when only that differs (a
// moved tag).
func releaseNames(a, b runtime.Observation) (string, string) {
	switch {
	case a.Image != b.Image:
		return a.Image, b.Image
	case a.SpecHash() == b.SpecHash() && a.ImageID != b.ImageID:
		return fmt.Sprintf("%s (image %s)", a.Image, shortID(a.ImageID)), fmt.Sprintf("%s (image %s)", b.Image, shortID(b.ImageID))
	}
	return fmt.Sprintf("%s (spec %s)", a.Image, a.SpecHash()), fmt.Sprintf("%s (spec %s)", b.Image, b.SpecHash())
}

// keepFailed stops the failed release's container and renames it to the FAILED record (an
// older record goes first).
func (o *Orchestrator) keepFailed(ctx context.Context, s *appState, ren runtime.Renamer, failed runtime.Observation) error {
	name := s.spec.Name
	if failed.State == runtime.StateMissing {
		return nil
	}
	if err := o.rt.Stop(ctx, name, s.spec.StopTimeout); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		o.log.Warn("stop of the failed release failed; removing it by force", "app", name, "err", err)
		return wrap("remove", name, o.rt.Remove(ctx, name, runtime.RemoveOptions{Force: true}))
	}
	if s.recs.failed != nil {
		if err := o.removeRecord(ctx, s, false); err != nil {
			return err
		}
	}
	if err := ren.Rename(ctx, name, name+failedSuffix); err != nil {
		return wrap("keep the failed release of", name, err)
	}
	failed.Name = name + failedSuffix
	o.publish(func() { s.recs.failed = &failed })
	return nil
}

// restorePrev renames PREV back to the app's name, starts it and waits for it, with the App it
// was created from when known (its health check, ReadyTimeout), else the desired App's.
func (o *Orchestrator) restorePrev(ctx context.Context, s *appState, ren runtime.Renamer) error {
	name := s.spec.Name
	prev := *s.recs.prev
	if prev.State != runtime.StateRunning {
		// A stop that a killed daemon asked for may still be under way in the engine (podman
		// finishes it, StopTimeout later): it is waited out here (a stop of a stopping
		// container returns once it exited), or it would end the release once restored and
		// refuse its start meanwhile.
		if err := o.rt.Stop(ctx, prev.Name, s.spec.StopTimeout); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			return wrap("stop", prev.Name, err)
		}
	}
	if err := o.restoreSnapshot(ctx, s, prev); err != nil {
		return err
	}
	if err := ren.Rename(ctx, prev.Name, name); err != nil {
		return wrap("restore the previous release of", name, err)
	}
	o.publish(func() { s.recs.prev = nil })
	if err := o.starting(func() error { return wrap("start", name, o.rt.Start(ctx, name)) }); err != nil {
		return err
	}
	prev.Name = name
	target := s.app
	if good := o.goodFor(s, prev); good != nil {
		target = *good
	}
	s.tracker = s.tracker.Reset()
	return o.waitReady(ctx, s, target, guardedStart)
}
