package orchestrator_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

const broken = "localhost/lnd:broken"

// upgraded returns lnd on image.
func upgraded(image string) orchestrator.App {
	a := newApp("lnd")
	a.Container.Image = image
	return a
}

// restart returns a fresh orchestrator over rt: a daemon restarted.
func restart(rt *fake.Runtime) *orchestrator.Orchestrator {
	return orchestrator.New(rt, orchestrator.Options{Logger: quiet})
}

func TestUpgradeToAMissingImageTouchesNothing(t *testing.T) {
	for _, fresh := range []bool{false, true} {
		t.Run(map[bool]string{false: "same daemon", true: "restarted daemon"}[fresh], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt, o := setup(orchestrator.Options{})
				ctx := context.Background()
				if _, err := o.Install(ctx, newApp("lnd")); err != nil {
					t.Fatal(err)
				}
				before := assertRunningHealthy(t, rt, "lnd")
				var err error
				if fresh {
					o = restart(rt)
					if err := o.RegisterAll(ctx, upgraded(broken)); err != nil {
						t.Fatal(err)
					}
					err = o.ReconcileAll(ctx).Apps[0].Err
				} else {
					_, err = o.Install(ctx, upgraded(broken))
				}
				if !errors.Is(err, runtime.ErrImageNotFound) || !strings.Contains(err.Error(), broken) || !strings.Contains(err.Error(), image+" keeps running") {
					t.Fatalf("err = %v, want ErrImageNotFound naming both images", err)
				}
				after := assertRunningHealthy(t, rt, "lnd")
				if after.ID != before.ID || !after.StartedAt.Equal(before.StartedAt) || rt.Calls(fake.OpStop) != 0 || rt.Calls(fake.OpRename) != 0 {
					t.Fatalf("the working container was touched: %s -> %s, %d stops, %d renames", before.ID, after.ID, rt.Calls(fake.OpStop), rt.Calls(fake.OpRename))
				}
				if got := rt.Names(); !cmp.Equal(got, []string{"lnd"}) {
					t.Fatalf("containers %v", got)
				}
				// Once the image can be had, the next pass upgrades.
				rt.MakePullable(broken)
				if rep := o.ReconcileAll(ctx); !rep.Converged() || rep.Acted() != 1 {
					t.Fatalf("pass once the image is pullable: %v", rep)
				}
				if spec, _, _ := rt.Container("lnd"); spec.Image != broken {
					t.Fatalf("runs %s", spec.Image)
				}
			})
		})
	}
}

// TestFailedUpgradeIsHeldAcrossRestarts: an upgrade whose release dies after start puts the
// very container that ran before back, keeps the failed one as lnd.FAILED, and holds the app
// there: in this daemon and in a restarted one whose config still asks for the failed release,
// until the desired spec changes.
func TestFailedUpgradeIsHeldAcrossRestarts(t *testing.T) {
	for _, upgrader := range []string{"same daemon", "restarted daemon"} {
		t.Run(upgrader, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt, o := setup(orchestrator.Options{})
				ctx := context.Background()
				v1 := newApp("lnd")
				if _, err := o.Install(ctx, v1); err != nil {
					t.Fatal(err)
				}
				before := assertRunningHealthy(t, rt, "lnd")
				rt.AddImage(broken)
				rt.SetImageBehaviour(broken, fake.Behaviour{DieAfter: time.Second, ExitCode: 9})
				if upgrader == "restarted daemon" {
					o = restart(rt) // knows nothing of v1
				}
				rep, err := o.Install(ctx, upgraded(broken))
				if !errors.Is(err, orchestrator.ErrRolledBack) || !errors.Is(err, runtime.ErrRolledBack) || !errors.Is(err, orchestrator.ErrNotReady) {
					t.Fatalf("err = %v, want ErrRolledBack and ErrNotReady", err)
				}
				if msg := err.Error(); !strings.Contains(msg, broken) || !strings.Contains(msg, "back on "+image) {
					t.Fatalf("the error must name the images: %v", err)
				}
				if !strings.Contains(strings.Join(rep.Logs, "\n"), "exited with code 9") {
					t.Fatalf("the report must carry the failed release's log: %q", rep.Logs)
				}
				brokenID, _ := rt.ImageID(ctx, broken)
				want := &orchestrator.Rollback{FailedImage: broken, FailedHash: specHash(upgraded(broken)), Image: image, Hash: specHash(v1),
					FailedImageID: brokenID, ImageID: before.ImageID}
				if diff := cmp.Diff(want, rep.Rollback); diff != "" {
					t.Fatalf("report's rollback (-want +got):\n%s", diff)
				}
				after := assertRunningHealthy(t, rt, "lnd")
				if after.ID != before.ID {
					t.Fatalf("not the container that ran before: %s -> %s", before.ID, after.ID)
				}
				if got := rt.Names(); !cmp.Equal(got, []string{"lnd", "lnd.FAILED"}) {
					t.Fatalf("containers %v, want lnd and the record lnd.FAILED", got)
				}
				if vols := rt.Volumes(); !cmp.Equal(vols, []string{"lnd-data"}) {
					t.Fatalf("volumes %v", vols)
				}

				for _, daemon := range []string{"this daemon", "restarted with the failed spec"} {
					if daemon != "this daemon" {
						o = restart(rt)
						if err := o.RegisterAll(ctx, upgraded(broken)); err != nil {
							t.Fatal(err)
						}
					}
					rep := o.ReconcileAll(ctx)
					if rep.Acted() != 0 || !rep.Converged() || rep.Apps[0].Rollback == nil || !strings.Contains(rep.Apps[0].Reason, "rolled back from "+broken) {
						t.Fatalf("%s: pass while held: %v", daemon, rep)
					}
					if diff := cmp.Diff(want, rep.Apps[0].Rollback); diff != "" {
						t.Fatalf("%s: rollback (-want +got):\n%s", daemon, diff)
					}
					if eff, ok := o.Effective("lnd"); !ok || eff.Container.Image != image {
						t.Fatalf("%s: effective %v %v", daemon, eff.Container.Image, ok)
					}
					if r, ok := o.Held("lnd"); !ok || r != *want {
						t.Fatalf("%s: Held = %+v %v", daemon, r, ok)
					}
					// A crash of the held release is repaired on the held release.
					rt.KillExternally("lnd")
					time.Sleep(orchestrator.BackoffMax)
					o.ReconcileAll(ctx)
					if spec, _, _ := rt.Container("lnd"); spec.Image != image {
						t.Fatalf("%s: after a crash lnd runs %s", daemon, spec.Image)
					}
					assertRunningHealthy(t, rt, "lnd")
				}

				// A new desired spec releases the hold and removes the record.
				v3 := upgraded("localhost/lnd:3")
				rt.AddImage(v3.Container.Image)
				if err := o.RegisterAll(ctx, v3); err != nil {
					t.Fatal(err)
				}
				if rep := o.ReconcileAll(ctx); !rep.Converged() || rep.Apps[0].Rollback != nil {
					t.Fatalf("pass after a new spec: %v", rep)
				}
				if got := rt.Names(); !cmp.Equal(got, []string{"lnd"}) {
					t.Fatalf("containers %v", got)
				}
				if spec, _, _ := rt.Container("lnd"); spec.Image != v3.Container.Image {
					t.Fatalf("runs %s", spec.Image)
				}
				if _, held := o.Held("lnd"); held {
					t.Fatal("still held")
				}
			})
		})
	}
}

func specHash(a orchestrator.App) string { return a.ContainerSpec().Labels[runtime.LabelSpecHash] }

// TestInterruptedUpgradeIsFinished: a daemon stopped in the middle of an upgrade leaves the
// previous release as lnd.PREV; the next pass of any daemon finishes the upgrade.
func TestInterruptedUpgradeIsFinished(t *testing.T) {
	for _, tc := range []struct {
		name string
		// left arranges the host as the interrupted daemon left it, lnd.PREV being v1.
		left      func(rt *fake.Runtime)
		wantImage string
		wantErr   error
		wantNames []string
	}{
		{"stopped before the new container was created", func(rt *fake.Runtime) {}, "localhost/lnd:2", nil, []string{"lnd"}},
		{"stopped while the new release was coming up", func(rt *fake.Runtime) {
			rt.CreateExternally(orchestrator.SpecOf(restart(rt), upgraded("localhost/lnd:2")), runtime.StateRunning)
		}, "localhost/lnd:2", nil, []string{"lnd"}},
		{"stopped while the new release was failing", func(rt *fake.Runtime) {
			rt.CreateExternally(orchestrator.SpecOf(restart(rt), upgraded("localhost/lnd:2")), runtime.StateExited)
		}, image, orchestrator.ErrRolledBack, []string{"lnd", "lnd.FAILED"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt, o := setup(orchestrator.Options{})
				ctx := context.Background()
				if _, err := o.Install(ctx, newApp("lnd")); err != nil {
					t.Fatal(err)
				}
				rt.AddImage("localhost/lnd:2")
				if err := rt.Rename(ctx, "lnd", "lnd.PREV"); err != nil {
					t.Fatal(err)
				}
				rt.KillExternally("lnd.PREV")
				tc.left(rt)
				o = restart(rt)
				if err := o.RegisterAll(ctx, upgraded("localhost/lnd:2")); err != nil {
					t.Fatal(err)
				}
				rep := o.ReconcileAll(ctx)
				if err := rep.Apps[0].Err; !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
					t.Fatalf("pass: %v, want %v", rep, tc.wantErr)
				}
				if rep := o.ReconcileAll(ctx); !rep.Converged() || rep.Acted() != 0 {
					t.Fatalf("second pass: %v", rep)
				}
				if spec, _, _ := rt.Container("lnd"); spec.Image != tc.wantImage {
					t.Fatalf("runs %s, want %s", spec.Image, tc.wantImage)
				}
				assertRunningHealthy(t, rt, "lnd")
				if got := rt.Names(); !cmp.Equal(got, tc.wantNames) {
					t.Fatalf("containers %v, want %v", got, tc.wantNames)
				}
			})
		})
	}
}

// TestShutdownDuringUpgradeIsNoVerdict: a context that ends while the new release is being
// waited for leaves both releases as they are, reports ErrInterrupted, never rolls back; the
// next pass gives the verdict.
func TestShutdownDuringUpgradeIsNoVerdict(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		if _, err := o.Install(context.Background(), newApp("lnd")); err != nil {
			t.Fatal(err)
		}
		rt.AddImage("localhost/lnd:2")
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			time.Sleep(500 * time.Millisecond) // inside the readiness wait (MinUptime 2 s)
			cancel()
		}()
		rep, err := o.Install(ctx, upgraded("localhost/lnd:2"))
		if !errors.Is(err, orchestrator.ErrInterrupted) || !errors.Is(err, context.Canceled) || errors.Is(err, orchestrator.ErrRolledBack) || !strings.Contains(rep.Reason, "interrupted") {
			t.Fatalf("interrupted upgrade: %v (%s)", err, rep.Reason)
		}
		if got := rt.Names(); !cmp.Equal(got, []string{"lnd", "lnd.PREV"}) {
			t.Fatalf("containers %v", got)
		}
		if rep := o.ReconcileAll(context.Background()); !rep.Converged() {
			t.Fatalf("pass after the interruption: %v", rep)
		}
		if got := rt.Names(); !cmp.Equal(got, []string{"lnd"}) {
			t.Fatalf("containers %v", got)
		}
		if spec, _, _ := rt.Container("lnd"); spec.Image != "localhost/lnd:2" {
			t.Fatalf("runs %s", spec.Image)
		}
	})
}
