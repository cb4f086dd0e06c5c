package orchestrator

import "fmt"

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
}

func (r Rollback) String() string {
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
