//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/containers/podman/v5/pkg/errorhandling"

	"github.com/skerry-dev/skerry/runtime"
)

func TestMapErr(t *testing.T) {
	model := func(code int, because string) error {
		return fmt.Errorf("start: %w", &errorhandling.ErrorModel{ResponseCode: code, Because: because, Message: because})
	}
	for _, tc := range []struct {
		err       error
		want, not error
	}{
		{model(404, "no such container"), runtime.ErrNotFound, nil},
		{model(409, "container exists"), runtime.ErrAlreadyExists, runtime.ErrPortInUse},
		{model(409, "can only kill running containers. 0123 is in state exited: container state improper"), nil, runtime.ErrAlreadyExists},
		{model(500, `creating container storage: the container name "a" is already in use by 0123. You have to remove that container to be able to reuse that name: that name is already in use`),
			runtime.ErrAlreadyExists, runtime.ErrPortInUse},
		{model(500, "volume with name a-data already exists: volume already exists"), runtime.ErrAlreadyExists, nil},
		// pasta (rootless), rootlessport and netavark words for a host port that is taken
		{model(500, "pasta failed with exit code 1:\nFailed to bind port 18090 (Address already in use) for option '-t 127.0.0.1/18090-18090:8080-8080', exiting"),
			runtime.ErrPortInUse, runtime.ErrAlreadyExists},
		{model(500, "rootlessport listen tcp 127.0.0.1:18090: bind: address already in use"), runtime.ErrPortInUse, runtime.ErrAlreadyExists},
		{model(500, "something else broke"), nil, runtime.ErrAlreadyExists},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), runtime.ErrUnavailable, nil},
	} {
		got := mapErr(tc.err, runtime.ErrNotFound)
		if tc.want != nil && !errors.Is(got, tc.want) {
			t.Errorf("mapErr(%v) = %v, want %v", tc.err, got, tc.want)
		}
		if tc.not != nil && errors.Is(got, tc.not) {
			t.Errorf("mapErr(%v) = %v, must not be %v", tc.err, got, tc.not)
		}
	}
}
