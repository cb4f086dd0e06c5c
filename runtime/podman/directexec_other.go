//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs && !unix

package podman

import (
	"os"
	"os/exec"
)

// newGroup does nothing here (no process groups; the fast pass never runs here: no crun).
func newGroup(*exec.Cmd) {}

// killGroup kills pid.
func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}
