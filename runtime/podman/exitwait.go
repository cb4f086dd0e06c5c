//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/containers/podman/v5/libpod/define"

	"github.com/skerry-dev/skerry/runtime"
)

// exitWaits is what WaitExit keeps between calls.
type exitWaits struct {
	// open opens a handle on a container's conmon (nil: openConmon); the seam tests replace to
	// force podman's wait call.
	open func(pid int, id string) (conmonHandle, error)
	// byPidfd counts the waits that a handle on conmon answered, not podman's wait call; the
	// integration tests read it to know which path they tested.
	byPidfd atomic.Int64
}

// conmonHandle is an open handle on one container's conmon, the process that lives exactly as
// long as the container's run: it ends once the container's process has ended and conmon has
// written its exit file.
type conmonHandle interface {
	// wait returns nil when the process has ended, ctx's error when ctx ends first, and another
	// error when it cannot wait.
	wait(ctx context.Context) error
	Close() error
}

// waitConmon answers WaitExit from the container's conmon when it can (answered), or leaves the
// answer to podman's wait call. Podman reports the conmon's PID in its own PID namespace, which
// may not be this process's, and the PID may be reused between the inspect and the pidfd_open:
// so the handle must prove that its process is a conmon of this container (openConmon), and a
// second inspect must show the same run (same conmon PID and start time) after it was opened.
// Then the handle's process is the monitor of the run the first inspect saw, and its end is the
// end of that run.
func (r *Runtime) waitConmon(ctx context.Context, name string) (answered bool, err error) {
	first, err := r.inspect(ctx, name)
	if err != nil {
		return true, waitErr(ctx, name, err)
	}
	if first.State == nil || first.State.ConmonPid == 0 {
		return true, nil // not running (a paused container keeps its conmon)
	}
	open := r.exits.open
	if open == nil {
		open = openConmon
	}
	h, err := open(first.State.ConmonPid, first.ID)
	if err != nil {
		return false, nil
	}
	defer h.Close()
	again, err := r.inspect(ctx, name)
	switch {
	case ctx.Err() != nil:
		return true, waitErr(ctx, name, ctx.Err())
	case errors.Is(mapErr(err, runtime.ErrNotFound), runtime.ErrNotFound):
		return true, nil // removed since: the run ended
	case err != nil:
		return false, nil
	case !sameRun(first, again):
		return true, nil // the run the first inspect saw has ended
	}
	r.exits.byPidfd.Add(1)
	if err := h.wait(ctx); err != nil {
		if ctx.Err() != nil {
			return true, waitErr(ctx, name, ctx.Err())
		}
		return false, nil
	}
	return true, nil
}

// sameRun reports whether two inspects of a running container saw the same run: the same
// container (not one re-created under its name), the same conmon, the same start.
func sameRun(first, again *define.InspectContainerData) bool {
	return first.ID == again.ID && first.State != nil && again.State != nil && first.State.ConmonPid != 0 &&
		again.State.ConmonPid == first.State.ConmonPid && again.State.StartedAt.Equal(first.State.StartedAt)
}

// waitErr is WaitExit's error for err: ctx's error when ctx has ended, else err mapped.
func waitErr(ctx context.Context, name string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("podman: wait %s: %w", name, ctx.Err())
	}
	return fmt.Errorf("podman: wait %s: %w", name, mapErr(err, runtime.ErrNotFound))
}
