//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"strings"
	"testing"
	"time"

	"github.com/containers/podman/v5/libpod/define"
	"pgregory.net/rapid"
)

// conmonArgs is how podman 5 starts conmon (libpod/oci_conmon_common.go), abridged.
func conmonArgs(id string) []string {
	return []string{"/usr/bin/conmon", "--api-version", "1", "-c", id, "-u", id, "-r", "/usr/bin/crun",
		"-b", "/home/app/.local/share/containers/storage/overlay-containers/" + id + "/userdata", "-n", "web",
		"--exit-command", "/usr/bin/podman", "--exit-command-arg", "container", "--exit-command-arg", id}
}

func cmdline(args []string) []byte { return []byte(strings.Join(args, "\x00") + "\x00") }

func TestIsConmonCmdline(t *testing.T) {
	const id = "4f2a6d0e9c1b3a5d7e8f90123456789abcdef0123456789abcdef0123456789a"
	const other = "0000000e9c1b3a5d7e8f90123456789abcdef0123456789abcdef0123456789a"
	for _, tc := range []struct {
		name    string
		cmdline []byte
		id      string
		want    bool
	}{
		{"conmon of the container", cmdline(conmonArgs(id)), id, true},
		{"conmon of another container", cmdline(conmonArgs(other)), id, false},
		{"the ID elsewhere only (podman's cleanup process)", cmdline([]string{"/usr/bin/podman", "container", "cleanup", id}), id, false},
		{"-c last", cmdline([]string{"/usr/bin/conmon", "-c"}), id, false},
		{"a process gone (empty cmdline)", nil, id, false},
		{"a zombie's empty cmdline and an empty ID", nil, "", false},
		{"the ID as a prefix of the argument", cmdline([]string{"conmon", "-c", id + "x"}), id, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isConmonCmdline(tc.cmdline, tc.id); got != tc.want {
				t.Errorf("isConmonCmdline(%q, %s) = %v, want %v", tc.cmdline, tc.id, got, tc.want)
			}
		})
	}
}

// Whatever other arguments conmon has, its command line is accepted for its own container's ID
// and refused for any other.
func TestIsConmonCmdlineProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		hex := rapid.StringMatching(`[0-9a-f]{64}`)
		id, asked := hex.Draw(t, "id"), hex.Draw(t, "asked")
		args := conmonArgs(id)
		extra := rapid.SliceOf(rapid.StringMatching(`[a-z/=-]{0,12}`)).Draw(t, "extra")
		args = append(args, extra...) // after the first -c: what podman adds at the end
		if got := isConmonCmdline(cmdline(args), asked); got != (asked == id) {
			t.Fatalf("isConmonCmdline(conmon of %s, %s) = %v", id, asked, got)
		}
	})
}

func TestSameRun(t *testing.T) {
	start := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	run := func(id string, conmon int, started time.Time) *define.InspectContainerData {
		return &define.InspectContainerData{ID: id, State: &define.InspectContainerState{ConmonPid: conmon, StartedAt: started}}
	}
	first := run("a", 100, start)
	for _, tc := range []struct {
		name  string
		again *define.InspectContainerData
		want  bool
	}{
		{"the same run", run("a", 100, start.In(time.Local)), true},
		{"restarted: another conmon", run("a", 200, start.Add(time.Second)), false},
		{"restarted: its conmon's PID reused", run("a", 100, start.Add(time.Second)), false},
		{"ended: no conmon", run("a", 0, start), false},
		{"re-created under the name", run("b", 100, start), false},
		{"no state", &define.InspectContainerData{ID: "a"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sameRun(first, tc.again); got != tc.want {
				t.Errorf("sameRun = %v, want %v", got, tc.want)
			}
		})
	}
	if sameRun(run("a", 0, start), run("a", 0, start)) {
		t.Error("sameRun of a container without conmon: true, want false (nothing runs)")
	}
}
