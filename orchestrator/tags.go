package orchestrator

// Moved tags: what the apps' image tags name locally, resolved cheaply.
//
// A container runs an image ID; its spec names a tag. When a pull or a build moves the tag to
// another image, the container is drift (Facts.ImageID, TagMoved) and the app is upgraded, with
// the rollback and hold of any upgrade. Resolving a tag is a runtime call (an image inspect on
// podman), so a pass does not resolve every app's tag: the tags are cached, and a tag is
// resolved again only when something may have moved it:
//
//   - the first time it is seen (the first pass, an Install of a new image);
//   - an explicit Install, EnsureRunning or ReconcileApp of a new tag (one call);
//   - after skerry pulled it (ensureImage): at the next operation on an app that uses it;
//   - after Options.ImageRecheck (default 5 minutes) since it was last resolved, by the next
//     ReconcileAll: the fallback for a tag moved behind skerry's back (a `podman pull` or
//     `podman build` by hand); the runtime's event stream carries container events only.
//
// So a no-op pass stays one List call, plus at most one image call per distinct desired tag
// every ImageRecheck. Digest references ("name@sha256:...") cannot move and are never resolved.
// A runtime that is not a runtime.ImageResolver gets no moved-tag drift.

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/skerry-dev/skerry/internal/tagcache"
	"github.com/skerry-dev/skerry/runtime"
)

// DefaultImageRecheck is how often, by default, a pass resolves the apps' tags again to notice
// a tag moved behind skerry's back (Options.ImageRecheck).
const DefaultImageRecheck = tagcache.DefaultRecheck

// resolveTag resolves ref when it is due: never resolved, pulled by skerry since, force, or
// (with aged) resolved ImageRecheck ago. It does nothing on a runtime without
// runtime.ImageResolver, with ImageRecheck < 0, or for a digest reference. A failure keeps what
// was known and is logged.
func (o *Orchestrator) resolveTag(ctx context.Context, ref string, force, aged bool) {
	res, ok := o.rt.(runtime.ImageResolver)
	if !ok || o.opts.ImageRecheck < 0 || !tagcache.Movable(ref) {
		return
	}
	now := time.Now()
	recheck := o.opts.ImageRecheck
	if !aged {
		recheck = math.MaxInt64 // an age never makes it due
	}
	if !o.tags.Due(ref, now, force, recheck) {
		return
	}
	id, err := res.ImageID(ctx, ref)
	if err != nil && !errors.Is(err, runtime.ErrImageNotFound) {
		o.log.Debug("could not resolve an image tag", "image", ref, "err", err)
		return
	}
	o.tags.Set(ref, id, now)
}

// resolveTags resolves the distinct desired tags of states that are due, for a pass.
func (o *Orchestrator) resolveTags(ctx context.Context, states map[string]*appState) {
	refs := map[string]bool{}
	o.mu.Lock()
	for _, s := range states {
		if s.desired {
			refs[s.spec.Image] = true
			if s.hold != nil && s.hold.good != nil {
				refs[s.hold.good.Container.Image] = true
			}
		}
	}
	o.mu.Unlock()
	for ref := range refs {
		o.resolveTag(ctx, ref, false, true)
	}
}
