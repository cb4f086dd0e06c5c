//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/containers/podman/v5/pkg/errorhandling"

	"github.com/skerry-dev/skerry/runtime"
)

// mapErr turns binding errors into the runtime's sentinels: 404 -> notFound; 409 (but for
// "container state improper") or podman's "name is already in use" / "already exists" ->
// runtime.ErrAlreadyExists; a host port taken
// ("address already in use", from pasta, rootlessport or netavark) -> runtime.ErrPortInUse; a
// refused or missing socket -> runtime.ErrUnavailable. Other answers keep podman's text and
// HTTP status.
func mapErr(err error, notFound error) error {
	if err == nil {
		return nil
	}
	var model *errorhandling.ErrorModel
	if errors.As(err, &model) {
		because := strings.ToLower(model.Because)
		switch {
		case model.ResponseCode == 404:
			return fmt.Errorf("%w: %s", notFound, model.Because)
		case strings.Contains(because, "address already in use"):
			return fmt.Errorf("%w: %s", runtime.ErrPortInUse, model.Because)
		case strings.Contains(because, "state improper"):
			// 409 too, but about the container's state (kill of a stopped container, ...), not
			// about a name: it keeps podman's words.
		case model.ResponseCode == 409 || strings.Contains(because, "name is already in use") || strings.Contains(because, "already exists"):
			return fmt.Errorf("%w: %s", runtime.ErrAlreadyExists, model.Because)
		}
		return fmt.Errorf("podman: %s (HTTP %d)", model.Because, model.ResponseCode)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("%w: %v", runtime.ErrUnavailable, err)
	}
	return err
}
