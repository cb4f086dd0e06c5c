package fake

// The fake's images: present, pullable (MakePullable), built.

import (
	"context"
	"fmt"

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

// Pull implements runtime.Images: it succeeds for refs made pullable.
func (r *Runtime) Pull(ctx context.Context, ref string, _ runtime.PullOptions) error {
	if err := r.enter(ctx, OpPull); err != nil {
		return err
	}
	defer r.mu.Unlock()
	if !r.pullable[ref] {
		return fmt.Errorf("fake: pull %q: %w", ref, runtime.ErrImageNotFound)
	}
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
