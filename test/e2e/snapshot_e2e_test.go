//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package e2e_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
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
// byte-identical to before, owners and modes included, and the old release runs on it. Then
// the same with a daemon killed right after the migration: the restarted daemon restores the
// volume from the snapshot on the host before the old release starts again.
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

	// migrating migrates the volume, says so, then serves nothing: its check fails.
	migrating := func(say string) orchestrator.App {
		m := a
		m.Container.Command = []string{"sh", "-c", "echo v2 > /data/db/schema && echo new > /data/db/added && " +
			"chown 1234:1234 /data/db/added && rm /data/keep && echo " + say + " && exec sleep 1000"}
		return m
	}
	// restored: the old release runs on the volume as it was, the snapshot and helpers gone.
	restored := func(step string) {
		t.Helper()
		if o := n.mustBeHealthy(t, a.Name); o.ID != running.ID {
			t.Fatalf("%s: the old release is not the one that runs: %s, want %s", step, o.ID, running.ID)
		}
		if diff := cmp.Diff(before, volumeState(t, a.Name)); diff != "" {
			t.Fatalf("%s: the volume differs (-before +after):\n%s", step, diff)
		}
		if _, err := os.Stat(filepath.Join(dir, a.Name)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s: the snapshot was not removed: %v", step, err)
		}
		if left := podmanCLI(t, "ps", "-a", "--filter", "label="+podman.LabelVolumeHelper, "--format", "{{.Names}}"); left != "" {
			t.Fatalf("%s: helper containers left: %s", step, left)
		}
	}

	if _, err := n.o.Install(ctx, migrating("migrated")); !errors.Is(err, orchestrator.ErrRolledBack) {
		t.Fatalf("upgrade: %v, want ErrRolledBack", err)
	}
	if logs := podmanCLI(t, "logs", a.Name+".FAILED"); logs != "migrated" {
		t.Fatalf("the failed release did not migrate the volume: %q", logs)
	}
	restored("rollback")

	// The daemon dies once the next failing release has migrated the volume, before its verdict.
	killed, kill := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := n.o.Install(killed, migrating("migrated-again")); done <- err }()
	deadline := time.Now().Add(time.Minute)
	for exec.Command("sh", "-c", "podman logs "+a.Name+" 2>/dev/null | grep -qx migrated-again").Run() != nil {
		if time.Now().After(deadline) {
			t.Fatal("the second failing release never migrated the volume")
		}
		time.Sleep(100 * time.Millisecond)
	}
	kill()
	<-done
	if st := n.obs(t, a.Name+".PREV").State; st != runtime.StateStopped && st != runtime.StateExited {
		t.Fatalf("not in the window: the old release is %v", st)
	}
	o := orchestrator.New(n.rt, orchestrator.Options{Logger: logger, Companions: n.comps, SnapshotDir: dir})
	if err := o.RegisterAll(ctx, migrating("migrated-again")); err != nil {
		t.Fatal(err)
	}
	if r := appReport(t, o.ReconcileAll(ctx), a.Name); !errors.Is(r.Err, orchestrator.ErrRolledBack) {
		t.Fatalf("restarted daemon: %v, want ErrRolledBack", r.Err)
	}
	restored("rollback by a restarted daemon")
}
