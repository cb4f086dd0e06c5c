//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/skerry-dev/skerry/runtime"
)

var _ runtime.Renamer = (*Runtime)(nil)

// Rename implements runtime.Renamer with podman's rename call: the container keeps its ID,
// state, labels and volumes.
func (r *Runtime) Rename(ctx context.Context, name, to string) error {
	if err := r.call(ctx, http.MethodPost, "/containers/%s/rename", url.Values{"name": {to}}, nil, nil, name); err != nil {
		return fmt.Errorf("podman: rename %s to %s: %w", name, to, mapErr(err, runtime.ErrNotFound))
	}
	return nil
}
