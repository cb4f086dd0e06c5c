//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"encoding/json"
	"errors"
	"strings"
)

// checkArgv is the command podman runs for a container's check test (its HealthCheck.Test), as
// podman's runHealthCheck builds it: "CMD" runs the rest, "CMD-SHELL" runs the rest with
// /bin/sh -c, anything else runs as given; nil when there is no check ("NONE", empty).
func checkArgv(test []string) []string {
	if len(test) == 0 {
		return nil
	}
	var argv []string
	switch test[0] {
	case "", "NONE":
		return nil
	case "CMD":
		argv = test[1:]
	case "CMD-SHELL":
		argv = []string{"/bin/sh", "-c", strings.Join(test[1:], " ")}
	default:
		argv = test
	}
	if len(argv) == 0 || argv[0] == "" {
		return nil
	}
	return append([]string(nil), argv...)
}

// execProcess returns the OCI process spec an exec of argv gets in the container whose bundle
// config is config: the container's own process (user, environment, working directory,
// capabilities, rlimits, no_new_privileges, apparmor and SELinux labels) with argv and no
// terminal, as podman's prepareProcessExec derives it. Fields it does not know are kept as
// they are.
func execProcess(config []byte, argv []string) ([]byte, error) {
	var bundle struct {
		Process map[string]json.RawMessage `json:"process"`
	}
	if err := json.Unmarshal(config, &bundle); err != nil {
		return nil, err
	}
	if bundle.Process == nil {
		return nil, errors.New("podman: bundle config has no process")
	}
	if len(argv) == 0 {
		return nil, errors.New("podman: no command to run")
	}
	args, err := json.Marshal(argv)
	if err != nil {
		return nil, err
	}
	bundle.Process["args"] = args
	bundle.Process["terminal"] = json.RawMessage("false")
	delete(bundle.Process, "consoleSize")
	return json.Marshal(bundle.Process)
}

// passNeedsNoRecord reports whether a passing check leaves podman's record as it is (status
// healthy, no failure counted): then the pass may go unrecorded. Any other state (starting,
// unhealthy, a failure pending) needs podman to record the pass (it resets the streak).
func passNeedsNoRecord(status string, failingStreak int) bool {
	return status == "healthy" && failingStreak == 0
}
