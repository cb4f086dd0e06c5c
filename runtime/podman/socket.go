package podman

import (
	"os"
	"strconv"
)

// DefaultSocket returns the rootless socket URI of the current user:
// unix://$XDG_RUNTIME_DIR/podman/podman.sock (unix:///run/user/<uid>/podman/podman.sock when
// XDG_RUNTIME_DIR is unset).
func DefaultSocket() string {
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = "/run/user/" + strconv.Itoa(os.Getuid())
	}
	return "unix://" + dir + "/podman/podman.sock"
}
