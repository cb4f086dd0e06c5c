//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/containers/podman/v5/pkg/errorhandling"

	"github.com/skerry-dev/skerry/runtime"
)

var _ runtime.ImagePruner = (*Runtime)(nil)

// Images implements runtime.ImagePruner with podman's image list (names, names history and
// the number of containers of every image).
func (r *Runtime) Images(ctx context.Context) ([]runtime.Image, error) {
	var list []listedImage
	if err := r.call(ctx, http.MethodGet, "/images/json", url.Values{"all": {"true"}}, nil, &list); err != nil {
		return nil, fmt.Errorf("podman: list images: %w", mapErr(err, runtime.ErrImageNotFound))
	}
	out := make([]runtime.Image, 0, len(list))
	for _, im := range list {
		out = append(out, runtime.Image{ID: im.ID, Names: im.Names, History: im.History, Containers: im.Containers})
	}
	return out, nil
}

// listedImage is what the adapter reads of an entry of podman's image list (the entities'
// ImageSummary).
type listedImage struct {
	ID         string `json:"Id"`
	Names      []string
	History    []string
	Containers int
}

// DeleteImage implements runtime.ImagePruner with podman's image remove, never forced: podman
// refuses an image a container uses, which is ErrImageInUse.
func (r *Runtime) DeleteImage(ctx context.Context, id string) error {
	for _, err := range r.removeImages(ctx, id) {
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

// removeImages is podman's image remove, never forced: the errors of the call, or else of its
// report (plain errors with podman's words, as the bindings return them).
func (r *Runtime) removeImages(ctx context.Context, ids ...string) []error {
	query := url.Values{"force": {"false"}, "images": ids}
	var report struct{ Errors []string }
	if err := r.call(ctx, http.MethodDelete, "/images/remove", query, nil, &report); err != nil {
		return []error{err}
	}
	var errs []error
	for _, e := range report.Errors {
		errs = append(errs, errors.New(e))
	}
	return errs
}
