package companion

// Moved tags: a companion whose image tag now names another image than its container runs.
//
// A companion's unit runs `podman run --replace` of its Image, so a restart recreates its
// container from what the tag names now. When a pull or a build moves the tag (by skerry, or by
// hand), the running container keeps the old image: a pass notices it and restarts the unit
// (ActionRestarted, UnitReport.TagMoved). As for apps (orchestrator/tags.go), this is kept cheap:
// each distinct tag is resolved (one image inspect) only when it is due, and the containers are
// listed (one List of every container: companions carry io.skerry.companion-of but not
// runtime.LabelManaged, and a label filter matches values, not keys) only in a pass that
// resolved a tag. A tag is due:
//
//   - the first time a pass of this manager sees it (so a new process checks every companion
//     once, which is also what a crash between noticing and restarting needs: nothing is kept
//     but what the host says);
//   - after the manager pulled or built it;
//   - at every Install of its app (forced): the orchestrator calls it on an explicit install and
//     when the app starts or is recreated;
//   - by Reconcile once Options.ImageRecheck (default DefaultImageRecheck) has passed since it
//     was last resolved;
//   - after a restart onto its new image failed (so the next pass looks again).
//
// ReconcileUnit (a unit's state changed) resolves nothing. A no-op pass so makes no runtime call;
// every ImageRecheck it makes one image inspect per distinct companion tag and one List.
//
// Rollback: a tag cannot be rolled back by file. A restarted companion that does not come up
// (not active, or with a health check not healthy, within its start timeout) is reported failed
// with the restart's error; systemd keeps restarting it (Restart=always) onto what the tag names
// and every pass starts a failed unit again. Moving the tag back (or pinning a digest) is the
// way back.
//
// Digest references ("name@sha256:...") never move and are never resolved. Without an images
// argument of New that is a runtime.ImageResolver and lists containers, or with a negative
// ImageRecheck, a moved tag is no drift.

import (
	"context"
	"errors"
	"time"

	"github.com/skerry-dev/skerry/internal/tagcache"
	"github.com/skerry-dev/skerry/runtime"
)

// DefaultImageRecheck is Options.ImageRecheck's default, the orchestrator's too.
const DefaultImageRecheck = tagcache.DefaultRecheck

// lister is the part of runtime.Containers that finds the companions' containers.
type lister interface {
	List(ctx context.Context, opts runtime.ListOptions) ([]runtime.Observation, error)
}

// tagMoved is the pure decision: a container that runs running while its tag resolves to
// tagID runs an image the tag no longer names. Either unknown ("") is no drift.
func tagMoved(running, tagID string) bool {
	return running != "" && tagID != "" && running != tagID
}

// movedTags returns the registered companions among items (by name) whose container runs
// another image than their tag resolves to now, resolving only the tags that are due (all of
// items' tags when force). It lists the containers only when it resolved a tag. Failures are
// logged: no drift is found then.
func (m *Manager) movedTags(ctx context.Context, items []item, force bool) map[string]bool {
	res, ok := m.images.(runtime.ImageResolver)
	ls, lists := m.images.(lister)
	if !ok || !lists || m.opts.ImageRecheck < 0 {
		return nil
	}
	now := time.Now()
	resolved := map[string]string{}
	for _, it := range items {
		if it.v != vKeep || it.want == nil {
			continue
		}
		ref := it.want.spec.Image
		if _, done := resolved[ref]; done || !tagcache.Movable(ref) || !m.tags.Due(ref, now, force, m.opts.ImageRecheck) {
			continue
		}
		id, err := res.ImageID(ctx, ref)
		if err != nil && !errors.Is(err, runtime.ErrImageNotFound) {
			m.log.Debug("could not resolve a companion's image tag", "image", ref, "err", err)
			continue
		}
		m.tags.Set(ref, id, now)
		resolved[ref] = id
	}
	if len(resolved) == 0 {
		return nil
	}
	obs, err := ls.List(ctx, runtime.ListOptions{})
	if err != nil {
		m.log.Debug("could not list the companions' containers", "err", err)
		for ref := range resolved {
			m.tags.Stale(ref)
		}
		return nil
	}
	running := map[string]runtime.Observation{}
	for _, o := range obs {
		running[o.Name] = o
	}
	moved := map[string]bool{}
	for _, it := range items {
		if it.v != vKeep || it.want == nil {
			continue
		}
		id, ok := resolved[it.want.spec.Image]
		o, found := running[it.name]
		if ok && found && o.Labels[LabelCompanionOf] == it.app && tagMoved(o.ImageID, id) {
			m.log.Info("companion image tag moved", "app", it.app, "companion", it.name, "image", it.want.spec.Image,
				"running", o.ImageID, "tag", id)
			moved[it.name] = true
		}
	}
	return moved
}
