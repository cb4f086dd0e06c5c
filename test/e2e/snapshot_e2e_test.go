//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package e2e_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime/podman"
)

// volumeState lists every entry under /data of the container with its owner, mode, size and
// mtime, and every file's checksum: equal states mean byte-identical content.
func volumeState(t *testing.T, container string) string {
	return podmanCLI(t, "exec", container, "sh", "-c",
		`cd /data && find . | sort | while read -r f; do stat -c '%n %u:%g %a %s %Y %F' "$f"; done; find . -type f | sort | xargs md5sum`)
}

// TestRolledBackUpgradeRestoresTheVolume: an app marks its data volume for snapshots. Its next
// release migrates the volume (changes a file, adds one in a directory that only a subordinate
// UID may write to, removes another), then fails its check. After the rollback the volume is
// byte-identical to before, owners and modes included, and the old release runs on it.
func TestRolledBackUpgradeRestoresTheVolume(t *testing.T) {
	n := newNode(t)
	dir := t.TempDir()
	n.o = orchestrator.New(n.rt, orchestrator.Options{Logger: logger, Companions: n.comps, SnapshotDir: dir})
	ctx := context.Background()
	a := app(uniq("snapshot"))
	a.SnapshotVolumes = []string{a.Name + "-data"}
	n.install(t, a)
	podmanCLI(t, "exec", a.Name, "sh", "-c",
		"mkdir /data/db && echo v1 > /data/db/schema && echo keep > /data/keep && chown -R 1234:1234 /data/db && chmod 700 /data/db")
	before := volumeState(t, a.Name)
	running := n.mustBeHealthy(t, a.Name)

	migrating := a // migrates the volume, then serves nothing: its check fails
	migrating.Container.Command = []string{"sh", "-c", "echo v2 > /data/db/schema && echo new > /data/db/added && " +
		"chown 1234:1234 /data/db/added && rm /data/keep && echo migrated && exec sleep 1000"}
	if _, err := n.o.Install(ctx, migrating); !errors.Is(err, orchestrator.ErrRolledBack) {
		t.Fatalf("upgrade: %v, want ErrRolledBack", err)
	}
	if logs := podmanCLI(t, "logs", a.Name+".FAILED"); logs != "migrated" {
		t.Fatalf("the failed release did not migrate the volume: %q", logs)
	}
	if o := n.mustBeHealthy(t, a.Name); o.ID != running.ID {
		t.Fatalf("the old release is not the one that runs: %s, want %s", o.ID, running.ID)
	}
	if diff := cmp.Diff(before, volumeState(t, a.Name)); diff != "" {
		t.Fatalf("the volume after the rollback differs (-before +after):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(dir, a.Name)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the snapshot was not removed: %v", err)
	}
	if left := podmanCLI(t, "ps", "-a", "--filter", "label="+podman.LabelVolumeHelper, "--format", "{{.Names}}"); left != "" {
		t.Fatalf("helper containers left: %s", left)
	}
}
