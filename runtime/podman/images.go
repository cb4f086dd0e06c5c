//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/errorhandling"

	"github.com/skerry-dev/skerry/runtime"
)

var _ runtime.ImagePruner = (*Runtime)(nil)

// Images implements runtime.ImagePruner with podman's image list (names, names history and
// the number of containers of every image).
func (r *Runtime) Images(ctx context.Context) ([]runtime.Image, error) {
	list, err := images.List(r.with(ctx), new(images.ListOptions).WithAll(true))
	if err != nil {
		return nil, fmt.Errorf("podman: list images: %w", mapErr(err, runtime.ErrImageNotFound))
	}
	out := make([]runtime.Image, 0, len(list))
	for _, im := range list {
		out = append(out, runtime.Image{ID: im.ID, Names: im.Names, History: im.History, Containers: im.Containers})
	}
	return out, nil
}

// DeleteImage implements runtime.ImagePruner with podman's image remove, never forced: podman
// refuses an image a container uses, which is ErrImageInUse.
func (r *Runtime) DeleteImage(ctx context.Context, id string) error {
	_, errs := images.Remove(r.with(ctx), []string{id}, new(images.RemoveOptions).WithForce(false))
	for _, err := range errs {
		var model *errorhandling.ErrorModel
		if errors.As(err, &model) && strings.Contains(strings.ToLower(model.Because), "in use by a container") {
			return fmt.Errorf("podman: remove image %s: %w: %s", id, runtime.ErrImageInUse, model.Because)
		}
		// The bindings return the libpod remove report's errors as plain errors, not as an
		// ErrorModel: podman's words are matched.
		switch msg := strings.ToLower(err.Error()); {
		case strings.Contains(msg, "in use by a container"):
			return fmt.Errorf("podman: remove image %s: %w: %v", id, runtime.ErrImageInUse, err)
		case strings.Contains(msg, "image not known"):
			return fmt.Errorf("podman: remove image %s: %w: %v", id, runtime.ErrImageNotFound, err)
		}
		return fmt.Errorf("podman: remove image %s: %w", id, mapErr(err, runtime.ErrImageNotFound))
	}
	return nil
}
