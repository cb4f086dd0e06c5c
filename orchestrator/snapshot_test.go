package orchestrator_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

// marked is the app lnd on image, with its data volume marked for snapshots.
func marked(image string) orchestrator.App {
	a := upgraded(image)
	a.SnapshotVolumes = []string{"lnd-data"}
	return a
}

// v1Data and v2Data are lnd-data as v1 leaves it and as v2 migrates it (a file changed, one
// added).
var (
	v1Data = map[string]string{"db": "v1 schema", "keep": "untouched"}
	v2Data = map[string]string{"db": "v2 schema", "keep": "untouched", "added": "by v2"}
)

// snapshotSetup installs v1 of lnd with lnd-data holding v1Data, and makes v2 present, migrating
// the volume at its start and, unless good, dying a second later.
func snapshotSetup(t *testing.T, good bool) (*fake.Runtime, *orchestrator.Orchestrator, string) {
	t.Helper()
	dir := t.TempDir()
	rt, o := setup(orchestrator.Options{SnapshotDir: dir})
	if _, err := o.Install(context.Background(), marked(image)); err != nil {
		t.Fatal(err)
	}
	rt.WriteVolume("lnd-data", v1Data)
	rt.AddImage(v2)
	rt.SetImageWrites(v2, map[string]string{"db": "v2 schema", "added": "by v2"})
	if !good {
		rt.SetImageBehaviour(v2, fake.Behaviour{DieAfter: time.Second, ExitCode: 9})
	}
	return rt, o, dir
}

const v2 = "localhost/lnd:2"

func assertVolume(t *testing.T, rt *fake.Runtime, want map[string]string) {
	t.Helper()
	if diff := cmp.Diff(want, rt.VolumeFiles("lnd-data")); diff != "" {
		t.Fatalf("lnd-data (-want +got):\n%s", diff)
	}
}

// assertNoSnapshot: the app's snapshot is gone.
func assertNoSnapshot(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "lnd")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("snapshot left in %s: %v", dir, err)
	}
}

// TestRolledBackUpgradeRestoresMarkedVolumes: an upgrade that migrates its volume and then
// fails leaves the volume as it was, and the old release runs on it; a good one keeps the
// migrated data. Either way the snapshot is removed.
func TestRolledBackUpgradeRestoresMarkedVolumes(t *testing.T) {
	for _, good := range []bool{true, false} {
		t.Run(map[bool]string{true: "good", false: "failing"}[good], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt, o, dir := snapshotSetup(t, good)
				_, err := o.Install(context.Background(), marked(v2))
				want, wantImage := v2Data, v2
				if !good {
					want, wantImage = v1Data, image
					if !errors.Is(err, orchestrator.ErrRolledBack) {
						t.Fatalf("upgrade: %v, want ErrRolledBack", err)
					}
				} else if err != nil {
					t.Fatal(err)
				}
				assertVolume(t, rt, want)
				if spec, _, _ := rt.Container("lnd"); spec.Image != wantImage {
					t.Fatalf("runs %s, want %s", spec.Image, wantImage)
				}
				assertRunningHealthy(t, rt, "lnd")
				assertNoSnapshot(t, dir)
				if n := rt.Calls(fake.OpSnapshotVolume); n != 1 {
					t.Fatalf("%d snapshots, want 1", n)
				}
			})
		})
	}
}

// TestSnapshotRefusals: an app that marks a volume it does not mount, or that an orchestrator
// without a snapshot directory or a runtime without snapshots runs, is refused with a
// validation error before any side effect; not enough disk space refuses the upgrade before it
// starts, and a failed snapshot puts the old release back: the old release keeps running.
func TestSnapshotRefusals(t *testing.T) {
	t.Run("invalid", func(t *testing.T) {
		bad := marked(image)
		bad.SnapshotVolumes = []string{"other"}
		for _, c := range []struct {
			name string
			opts orchestrator.Options
			bare bool // the runtime is no VolumeSnapshotter
			app  orchestrator.App
		}{
			{"volume not mounted", orchestrator.Options{SnapshotDir: t.TempDir()}, false, bad},
			{"no SnapshotDir", orchestrator.Options{}, false, marked(image)},
			{"relative dir", orchestrator.Options{SnapshotDir: "snaps"}, false, marked(image)},
			{"no capability", orchestrator.Options{SnapshotDir: t.TempDir()}, true, marked(image)},
		} {
			rt := fake.New()
			rt.AddImage(image)
			var r runtime.Runtime = rt
			if c.bare {
				r = noSnapshots{rt}
			}
			c.opts.Logger = quiet
			o := orchestrator.New(r, c.opts)
			_, err := o.Install(context.Background(), c.app)
			rerr := o.RegisterAll(context.Background(), c.app)
			var ve *runtime.ValidationError
			for _, err := range []error{err, rerr} {
				if !errors.Is(err, runtime.ErrInvalidSpec) || !errors.As(err, &ve) {
					t.Errorf("%s: %v, want a *runtime.ValidationError", c.name, err)
				}
			}
			if n := rt.TotalCalls(); n != 0 {
				t.Errorf("%s: %d runtime calls before the refusal", c.name, n)
			}
		}
	})
	for _, tc := range []struct {
		name    string
		arrange func(rt *fake.Runtime)
		want    error
	}{
		{"no disk space", func(rt *fake.Runtime) { rt.SetVolumeSize("lnd-data", 1<<62) }, orchestrator.ErrSnapshotSpace},
		{"snapshot fails", func(rt *fake.Runtime) { rt.FailNth(fake.OpSnapshotVolume, 1, errors.New("disk on fire")) }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt, o, dir := snapshotSetup(t, true)
				tc.arrange(rt)
				rep, err := o.Install(context.Background(), marked(v2))
				if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
					t.Fatalf("upgrade: %v, want an error wrapping %v", err, tc.want)
				}
				if spec, _, _ := rt.Container("lnd"); spec.Image != image {
					t.Fatalf("runs %s, want %s (%s)", spec.Image, image, rep.Reason)
				}
				assertRunningHealthy(t, rt, "lnd")
				if got := rt.Names(); !cmp.Equal(got, []string{"lnd"}) {
					t.Fatalf("containers %v", got)
				}
				if rt.Calls(fake.OpCreate) != 1 {
					t.Fatalf("the new release was created")
				}
				assertVolume(t, rt, v1Data)
				assertNoSnapshot(t, dir)
			})
		})
	}
}

// noSnapshots is a runtime without the VolumeSnapshotter capability.
type noSnapshots struct{ runtime.Runtime }

// TestFailedRestoreKeepsTheOldReleaseStopped: when the restore fails, the old release does not
// start on the migrated data; the next pass restores and starts it.
func TestFailedRestoreKeepsTheOldReleaseStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o, dir := snapshotSetup(t, false)
		rt.FailNth(fake.OpRestoreVolume, 1, errors.New("engine hiccup"))
		ctx := context.Background()
		if _, err := o.Install(ctx, marked(v2)); err == nil {
			t.Fatal("upgrade succeeded")
		}
		if _, prev, ok := rt.Container("lnd.PREV"); !ok || prev.State == runtime.StateRunning {
			t.Fatalf("the old release: %v (exists=%v), want it stopped", prev.State, ok)
		}
		assertVolume(t, rt, v2Data)
		for range 3 {
			o.ReconcileAll(ctx)
			time.Sleep(orchestrator.BackoffMax)
		}
		assertVolume(t, rt, v1Data)
		if spec, _, _ := rt.Container("lnd"); spec.Image != image {
			t.Fatalf("runs %s, want %s", spec.Image, image)
		}
		assertRunningHealthy(t, rt, "lnd")
		assertNoSnapshot(t, dir)
	})
}

// TestUninstallRemovesTheSnapshot: an app uninstalled while an interrupted upgrade left its
// snapshot leaves no snapshot behind.
func TestUninstallRemovesTheSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o, dir := snapshotSetup(t, true)
		rt.Hang(fake.OpCreate, true)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		o.Install(ctx, marked(v2))
		cancel()
		rt.Hang(fake.OpCreate, false)
		if _, err := os.Stat(filepath.Join(dir, "lnd", "manifest.json")); err != nil {
			t.Fatalf("no snapshot after the interrupted upgrade: %v", err)
		}
		if _, err := o.Uninstall(context.Background(), "lnd", orchestrator.UninstallOptions{}); err != nil {
			t.Fatal(err)
		}
		assertNoSnapshot(t, dir)
		if got := rt.Names(); len(got) != 0 {
			t.Fatalf("containers left: %v", got)
		}
	})
}
