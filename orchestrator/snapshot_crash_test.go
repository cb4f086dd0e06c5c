package orchestrator_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime/fake"
)

// TestCrashDuringSnapshottedUpgradeConverges: a daemon killed at any step of an upgrade of an
// app with a marked volume, from the snapshot to the commit or the restore, leaves the host so
// that a daemon restarted with the new release in its config converges with the right data: the
// new release's migrated data when it is good (a snapshot left by the killed commit is never
// restored over it), the old release's data, restored before it starts, when it is not.
func TestCrashDuringSnapshottedUpgradeConverges(t *testing.T) {
	// kill arranges the first daemon's death: it hangs at op (none: at its context's end) and
	// its context ends after d; after runs once it is dead.
	windows := []struct {
		name  string
		op    fake.Op
		d     time.Duration
		after func(t *testing.T, rt *fake.Runtime, dir string)
		only  map[bool]bool // the verdicts where the window exists (nil: both)
	}{
		{name: "during the snapshot, an archive half-written", op: fake.OpSnapshotVolume, d: 10 * time.Second,
			after: func(t *testing.T, rt *fake.Runtime, dir string) {
				if err := os.MkdirAll(filepath.Join(dir, "lnd"), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "lnd", "lnd-data.tar.tmp"), []byte(`{"db":`), 0o600); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "after the snapshot, before the create", op: fake.OpCreate, d: 10 * time.Second},
		{name: "after the start, the volume migrated", d: 500 * time.Millisecond},
		{name: "during the restore, the failed release kept", op: fake.OpRestoreVolume, d: 10 * time.Second, only: map[bool]bool{false: true}},
		{name: "at the commit, PREV's removal finished by the engine", op: fake.OpRemove, d: 10 * time.Second, only: map[bool]bool{true: true},
			after: func(t *testing.T, rt *fake.Runtime, dir string) { rt.RemoveExternally("lnd.PREV") }},
	}
	for _, w := range windows {
		for _, good := range []bool{true, false} {
			if w.only != nil && !w.only[good] {
				continue
			}
			t.Run(fmt.Sprintf("%s/good=%v", w.name, good), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					rt, o, dir := snapshotSetup(t, good)
					if w.op != "" {
						rt.Hang(w.op, true)
					}
					ctx, cancel := context.WithTimeout(context.Background(), w.d)
					o.Install(ctx, marked(v2))
					cancel()
					if w.op != "" {
						rt.Hang(w.op, false)
					}
					if w.after != nil {
						w.after(t, rt, dir)
					}

					o = orchestrator.New(portRuntime{rt}, orchestrator.Options{Logger: quiet, SnapshotDir: dir})
					if err := o.RegisterAll(context.Background(), marked(v2)); err != nil {
						t.Fatal(err)
					}
					var rep orchestrator.Report
					for range 4 {
						rep = o.ReconcileAll(context.Background())
						time.Sleep(orchestrator.BackoffMax)
					}
					if rep = o.ReconcileAll(context.Background()); !rep.Converged() || rep.Acted() != 0 {
						t.Fatalf("not converged: %v; engine: %s", rep, rt)
					}
					assertRunningHealthy(t, rt, "lnd")
					wantImage, wantData, wantNames := v2, v2Data, []string{"lnd"}
					if !good {
						wantImage, wantData, wantNames = image, v1Data, []string{"lnd", "lnd.FAILED"}
						if _, held := o.Held("lnd"); !held {
							t.Fatal("not held")
						}
					}
					if spec, _, _ := rt.Container("lnd"); spec.Image != wantImage {
						t.Fatalf("runs %s, want %s", spec.Image, wantImage)
					}
					if got := rt.Names(); !cmp.Equal(got, wantNames) {
						t.Fatalf("containers %v, want %v", got, wantNames)
					}
					assertVolume(t, rt, wantData)
					if w.op != fake.OpRemove { // the killed commit's snapshot stays until the next upgrade
						assertNoSnapshot(t, dir)
					}
				})
			})
		}
	}
}
