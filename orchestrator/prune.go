package orchestrator

// Image pruning: the images of managed apps that no container uses any more are removed, so
// that upgrades do not fill the disk.
//
// An image is a managed app's when the host says so: it is nameless and one of its past names
// (podman's NamesHistory) is the image reference of a desired app (what a moved tag leaves
// behind), or one of its names is the previous release (runtime label io.skerry.previous-image)
// of a managed container, and no desired app wants that reference. It is removed only when no
// container uses it (the runtime counts them, and podman refuses to remove an image in use:
// runtime.ErrImageInUse), so the images of the running release, of <app>.PREV and of
// <app>.FAILED, needed for a rollback or a hold, stay; an image named by a desired app's
// reference stays; a user's own images (no managed app's reference in their names or history)
// stay. The image of a release that failed after a changed spec keeps its name and is not
// pruned.
//
// A pass prunes after an upgrade committed or a FAILED record was removed (a hold released)
// since the last prune, and at the first pass of the process when a managed container carries
// a previous release (a daemon killed between a commit and its prune prunes then): one image
// list, then one removal per image pruned. Other passes make no image call. Off with
// Options.KeepImages, and on a runtime that is not a runtime.ImagePruner.

import (
	"context"
	"errors"
	"slices"

	"github.com/skerry-dev/skerry/runtime"
)

// pruneDue marks that images may have been left unused (an upgrade committed, a record gone).
func (o *Orchestrator) pruneDue() { o.prune.Store(true) }

// pruneImages prunes the managed apps' unused images when due (see above); observed is the
// pass's List.
func (o *Orchestrator) pruneImages(ctx context.Context, states map[string]*appState, observed []runtime.Observation) {
	p, ok := o.rt.(runtime.ImagePruner)
	if !ok || o.opts.KeepImages || ctx.Err() != nil { // an ended pass leaves it to the next
		return
	}
	previous := map[string]bool{}
	for _, obs := range observed {
		if ref := obs.Labels[labelPrevImage]; ref != "" {
			previous[normalizeImage(ref)] = true
		}
	}
	first := !o.pruned.Swap(true)
	if !o.prune.Swap(false) && !(first && len(previous) > 0) {
		return
	}
	desired := map[string]bool{}
	o.mu.Lock()
	for _, s := range states {
		if s.desired {
			desired[normalizeImage(s.spec.Image)] = true
			if s.hold != nil && s.hold.good != nil {
				desired[normalizeImage(s.hold.good.Container.Image)] = true
			}
		}
	}
	o.mu.Unlock()
	images, err := p.Images(ctx)
	if err != nil {
		o.log.Warn("could not list images to prune", "err", err)
		o.pruneDue()
		return
	}
	for _, im := range images {
		if im.Containers > 0 || !managedImage(im, desired, previous) {
			continue
		}
		err := p.DeleteImage(ctx, im.ID)
		switch {
		case err == nil:
			o.log.Info("pruned an unused image", "image", im.ID, "names", im.Names, "history", im.History)
		case errors.Is(err, runtime.ErrImageInUse), errors.Is(err, runtime.ErrImageNotFound):
		default:
			o.log.Warn("could not prune an unused image", "image", im.ID, "err", err)
		}
	}
}

// managedImage reports whether im is a managed app's image that no desired app wants (see
// above).
func managedImage(im runtime.Image, desired, previous map[string]bool) bool {
	for _, n := range im.Names {
		if desired[normalizeImage(n)] {
			return false
		}
	}
	if len(im.Names) == 0 && slices.ContainsFunc(im.History, func(h string) bool { return desired[normalizeImage(h)] }) {
		return true
	}
	return slices.ContainsFunc(im.Names, func(n string) bool { return previous[normalizeImage(n)] })
}
