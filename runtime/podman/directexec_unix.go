//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs && unix

package podman

import (
	"os/exec"
	"syscall"
)

// newGroup makes cmd the leader of a process group of its own.
func newGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// killGroup kills pid's process group (when pid leads one) and pid.
func killGroup(pid int) {
	syscall.Kill(-pid, syscall.SIGKILL)
	syscall.Kill(pid, syscall.SIGKILL)
}
