//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skerry-dev/skerry/runtime"
)

// inVolume runs script in a busybox container as user with volume at /d and returns its output.
func inVolume(t *testing.T, volume, user, script string) string {
	t.Helper()
	out, err := exec.Command("podman", "run", "--rm", "--network=none", "--user", user, "-v", volume+":/d",
		testImage, "sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%s in volume %s: %v\n%s", script, volume, err, out)
	}
	return string(out)
}

// volumeState lists every entry of the volume with its owner, mode, size and mtime, and every
// file's checksum: equal states mean byte-identical content.
func volumeState(t *testing.T, volume string) string {
	return inVolume(t, volume, "0", `cd /d && find . | sort | while read -r f; do stat -c '%n %u:%g %a %s %Y %F' "$f"; done; find . -type f | sort | xargs md5sum`)
}

// TestVolumeSnapshotRestore: a volume with files of a subordinate UID in a directory only that
// UID may write to, changed (files changed, added in that directory, removed) while a stopped
// container uses it, is put back exactly by RestoreVolume.
func TestVolumeSnapshotRestore(t *testing.T) {
	r := connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	vol := uniq("skerry-snap")
	user := vol + "-user"
	t.Cleanup(func() {
		exec.Command("podman", "rm", "-f", user, helperName(vol)).Run()
		exec.Command("podman", "volume", "rm", "-f", vol).Run()
	})
	if out, err := exec.Command("podman", "volume", "create", vol).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	inVolume(t, vol, "0", `mkdir /d/keep && echo a > /d/keep/a && chown -R 1234:1234 /d/keep && chmod 700 /d/keep && echo b > /d/b && ln -s b /d/link && mkdir /d/empty && ln /d/b /d/hardlink && head -c 67108864 /dev/urandom > /d/big`)
	if out, err := exec.Command("podman", "create", "--name", user, "-v", vol+":/data", testImage, "true").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	before := volumeState(t, vol)

	start := time.Now()
	size, err := r.VolumeSize(ctx, vol)
	t.Logf("VolumeSize: %d bytes in %v", size, time.Since(start))
	if err != nil || size <= 0 {
		t.Fatalf("VolumeSize = %d, %v; want > 0", size, err)
	}
	file := filepath.Join(t.TempDir(), vol+".tar")
	start = time.Now()
	if err := r.SnapshotVolume(ctx, vol, file); err != nil {
		t.Fatal(err)
	}
	t.Logf("SnapshotVolume: %v", time.Since(start))
	if st, err := os.Stat(file); err != nil || st.Size() == 0 {
		t.Fatalf("archive: %v, %v", st, err)
	}

	inVolume(t, vol, "1234", `echo changed > /d/keep/a && mkdir /d/keep/new && echo x > /d/keep/new/f && chmod 700 /d/keep/new`)
	inVolume(t, vol, "0", `rm /d/b && echo y > /d/added && rmdir /d/empty`)
	if volumeState(t, vol) == before {
		t.Fatal("the changes did not change the volume's state")
	}
	// A helper that a killed daemon left running, the volume mounted: removed first.
	if out, err := exec.Command("podman", "run", "-d", "--name", helperName(vol), "--label", LabelVolumeHelper+"="+vol,
		"-v", vol+":/mnt", testImage, "sleep", "1000").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for range 2 { // restoring twice is restoring once
		start = time.Now()
		if err := r.RestoreVolume(ctx, vol, file); err != nil {
			t.Fatal(err)
		}
		t.Logf("RestoreVolume: %v", time.Since(start))
		if diff := cmp.Diff(before, volumeState(t, vol)); diff != "" {
			t.Fatalf("restored volume differs (-before +after):\n%s", diff)
		}
	}
	if out, err := exec.Command("podman", "ps", "-a", "--filter", "label="+LabelVolumeHelper, "--format", "{{.Names}}").Output(); err != nil || len(out) != 0 {
		t.Fatalf("helper containers left: %q %v", out, err)
	}

	for _, err := range []error{
		r.SnapshotVolume(ctx, vol+"-missing", file),
		r.RestoreVolume(ctx, vol+"-missing", file),
		func() error { _, err := r.VolumeSize(ctx, vol+"-missing"); return err }(),
	} {
		if !errors.Is(err, runtime.ErrVolumeNotFound) {
			t.Fatalf("missing volume: %v, want ErrVolumeNotFound", err)
		}
	}
}
