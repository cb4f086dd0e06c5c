//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs && !linux

package podman

import "errors"

// openConmon fails where there is no pidfd: podman's wait call answers WaitExit.
func openConmon(pid int, id string) (conmonHandle, error) { return nil, errors.ErrUnsupported }
