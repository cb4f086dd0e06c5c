package fake

import (
	"context"
	"fmt"

	"github.com/skerry-dev/skerry/runtime"
)

var _ runtime.Renamer = (*Runtime)(nil)

// Rename implements runtime.Renamer, as podman rename does: the container keeps its ID, state,
// labels and volumes under its new name.
func (r *Runtime) Rename(ctx context.Context, name, to string) error {
	if err := r.enter(ctx, OpRename); err != nil {
		return err
	}
	defer r.mu.Unlock()
	c, ok := r.containers[name]
	if !ok {
		return notFound(name)
	}
	if _, taken := r.containers[to]; taken {
		return fmt.Errorf("fake: rename %q to %q: %w", name, to, runtime.ErrAlreadyExists)
	}
	delete(r.containers, name)
	c.spec.Name = to
	r.containers[to] = c
	r.changes.Send(name)
	r.emit(c, "rename")
	return nil
}
