package fake

// The fake's images: present, pullable (MakePullable), built.

import (
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/skerry-dev/skerry/runtime"
)

// ImageExists implements runtime.Images.
func (r *Runtime) ImageExists(ctx context.Context, ref string) (bool, error) {
	if err := r.enter(ctx, OpImageExists); err != nil {
		return false, err
	}
	defer r.mu.Unlock()
	return r.images[ref], nil
}

// PullLayers is how many layers the fake's Pull reports copying (opts.Progress), one every
// PullLayerTime, before the image's configuration.
const (
	PullLayers    = 3
	PullLayerTime = 100 * time.Millisecond
)

// Pull implements runtime.Images: it succeeds for refs made pullable, after reporting
// PullLayers layers to opts.Progress, as podman's does (without bytes), PullLayerTime apart.
func (r *Runtime) Pull(ctx context.Context, ref string, opts runtime.PullOptions) error {
	if err := r.enter(ctx, OpPull); err != nil {
		return err
	}
	ok := r.pullable[ref]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("fake: pull %q: %w", ref, runtime.ErrImageNotFound)
	}
	for i := 1; i <= PullLayers+1 && opts.Progress != nil; i++ {
		select {
		case <-time.After(PullLayerTime):
		case <-ctx.Done():
			return ctx.Err()
		}
		p := runtime.PullProgress{Ref: ref, Layers: min(i, PullLayers), Config: i > PullLayers, Bytes: -1, Message: "Copying blob"}
		if p.Config {
			p.Message = "Copying config"
		}
		opts.Progress(p)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.images[ref] = true
	return nil
}

// Build implements runtime.Images: it always succeeds and tags opts.Tag.
func (r *Runtime) Build(ctx context.Context, opts runtime.BuildOptions) error {
	if err := r.enter(ctx, OpBuild); err != nil {
		return err
	}
	defer r.mu.Unlock()
	r.images[opts.Tag] = true
	return nil
}

// OpImageID is the operation of ImageID (runtime.ImageResolver).
const OpImageID Op = "image-id"

var _ runtime.ImageResolver = (*Runtime)(nil)

// ImageID implements runtime.ImageResolver. A ref's image ID is derived from the ref and how
// often MoveTag moved it; a container runs the ID its image's ref had when it was created.
func (r *Runtime) ImageID(ctx context.Context, ref string) (string, error) {
	if err := r.enter(ctx, OpImageID); err != nil {
		return "", err
	}
	defer r.mu.Unlock()
	if !r.images[ref] {
		return "", fmt.Errorf("fake: image %q: %w", ref, runtime.ErrImageNotFound)
	}
	return r.imageID(ref), nil
}

// MoveTag makes ref name a new image, present locally, as a pull or a build of a changed image
// does: containers created from ref before keep running the old one.
func (r *Runtime) MoveTag(ref string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tagMoves == nil {
		r.tagMoves, r.leftImages = map[string]int{}, map[string]string{}
	}
	if r.images[ref] { // the image it named stays, nameless
		r.leftImages[r.imageID(ref)] = ref
	}
	r.tagMoves[ref]++
	r.images[ref] = true
}

// imageID is the ID ref names now. The caller holds r.mu.
func (r *Runtime) imageID(ref string) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256(fmt.Appendf(nil, "%s#%d", ref, r.tagMoves[ref])))
}

// The operations of runtime.ImagePruner.
const (
	OpImages      Op = "images"
	OpDeleteImage Op = "delete-image"
)

var _ runtime.ImagePruner = (*Runtime)(nil)

// Images implements runtime.ImagePruner: the present refs, each its own image, and the images
// MoveTag left behind (no name, the ref in their history), with their containers counted.
func (r *Runtime) Images(ctx context.Context) ([]runtime.Image, error) {
	if err := r.enter(ctx, OpImages); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	var out []runtime.Image
	for _, ref := range slices.Sorted(maps.Keys(r.images)) {
		if r.images[ref] {
			id := r.imageID(ref)
			out = append(out, runtime.Image{ID: id, Names: []string{ref}, History: []string{ref}, Containers: r.usersOf(id)})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(r.leftImages)) {
		out = append(out, runtime.Image{ID: id, History: []string{r.leftImages[id]}, Containers: r.usersOf(id)})
	}
	return out, nil
}

// DeleteImage implements runtime.ImagePruner; an image a container uses is refused.
func (r *Runtime) DeleteImage(ctx context.Context, id string) error {
	if err := r.enter(ctx, OpDeleteImage); err != nil {
		return err
	}
	defer r.mu.Unlock()
	if n := r.usersOf(id); n > 0 {
		return fmt.Errorf("fake: remove image %s: %w (%d containers)", id, runtime.ErrImageInUse, n)
	}
	if _, ok := r.leftImages[id]; ok {
		delete(r.leftImages, id)
		return nil
	}
	for ref, present := range r.images {
		if present && r.imageID(ref) == id {
			delete(r.images, ref)
			return nil
		}
	}
	return fmt.Errorf("fake: remove image %s: %w", id, runtime.ErrImageNotFound)
}

// usersOf counts the containers of image id. The caller holds r.mu.
func (r *Runtime) usersOf(id string) int {
	n := 0
	for _, c := range r.containers {
		if c.imageID == id {
			n++
		}
	}
	return n
}
