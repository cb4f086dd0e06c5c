package orchestrator_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

// imageIDs lists the fake's image IDs.
func imageIDs(t *testing.T, rt *fake.Runtime) []string {
	t.Helper()
	images, err := rt.Images(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, im := range images {
		ids = append(ids, im.ID)
	}
	return ids
}

func idOf(t *testing.T, rt *fake.Runtime, ref string) string {
	t.Helper()
	id, err := rt.ImageID(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// After a committed upgrade, the previous release's image goes at the next pass, and so does
// what a moved tag left behind; a user's own images, another tag of the app's repository and
// the images in use stay. With KeepImages nothing goes.
func TestUnusedImagesOfManagedAppsArePruned(t *testing.T) {
	for _, keep := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			const v2, mine, sibling = "localhost/lnd:2", "localhost/mine:1", "localhost/busybox:musl"
			rt, o := setup(orchestrator.Options{KeepImages: keep})
			rt.AddImage(v2, mine, sibling)
			ctx := context.Background()
			if _, err := o.Install(ctx, newApp("lnd")); err != nil {
				t.Fatal(err)
			}
			if _, err := o.Install(ctx, newApp("other")); err != nil {
				t.Fatal(err)
			}
			old := idOf(t, rt, image)
			if _, err := o.Install(ctx, upgraded(v2)); err != nil {
				t.Fatal(err)
			}
			o.ReconcileAll(ctx)
			if !slices.Contains(imageIDs(t, rt), old) {
				t.Fatal("an image another app runs was pruned")
			}
			if _, err := o.Uninstall(ctx, "other", orchestrator.UninstallOptions{}); err != nil {
				t.Fatal(err)
			}
			rt.MoveTag(v2)
			time.Sleep(orchestrator.DefaultImageRecheck)
			left := idOf(t, rt, v2) // what the upgrade onto the moved tag leaves: the current ID
			rt.MoveTag(v2)
			o.ReconcileAll(ctx) // upgrades lnd onto the moved tag; commits; prunes
			rt.ResetCalls()
			o.ReconcileAll(ctx)
			if n := rt.TotalCalls(); n != 1 {
				t.Fatalf("a pass after the prune made %d calls, want the List", n)
			}
			got := imageIDs(t, rt)
			kept := []string{idOf(t, rt, v2), idOf(t, rt, mine), idOf(t, rt, sibling)}
			for _, id := range kept {
				if !slices.Contains(got, id) {
					t.Fatalf("keep=%v: image %s pruned; left %v", keep, id, got)
				}
			}
			if keep != (len(got) == len(kept)+3) {
				// the image the app first ran (another tag then) and the two v2 left behind
				t.Fatalf("keep=%v: images %v, kept %v", keep, got, kept)
			}
			if !keep && (slices.Contains(got, old) || slices.Contains(got, left)) {
				t.Fatalf("unused images of the app stay: %v", got)
			}
		})
	}
}

// The images of a held app's running release and of its FAILED record are in use: never
// pruned, in this daemon or a restarted one.
func TestHeldReleasesKeepTheirImages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		if _, err := o.Install(ctx, newApp("lnd")); err != nil {
			t.Fatal(err)
		}
		good := idOf(t, rt, image)
		rt.MoveTag(image)
		bad := idOf(t, rt, image)
		rt.SetImageBehaviour(bad, fake.Behaviour{DieAfter: time.Second, ExitCode: 9})
		if _, err := o.Install(ctx, newApp("lnd")); !errors.Is(err, orchestrator.ErrRolledBack) {
			t.Fatal(err)
		}
		o.ReconcileAll(ctx)
		o = restart(rt)
		if err := o.RegisterAll(ctx, newApp("lnd")); err != nil {
			t.Fatal(err)
		}
		o.ReconcileAll(ctx)
		if got := imageIDs(t, rt); !slices.Contains(got, good) || !slices.Contains(got, bad) {
			t.Fatalf("images %v, want %s (running) and %s (FAILED)", got, good, bad)
		}
		if err := rt.DeleteImage(ctx, good); !errors.Is(err, runtime.ErrImageInUse) {
			t.Fatalf("delete of an image in use: %v", err)
		}
	})
}

// Crash window: a daemon killed between an upgrade's commit and its prune leaves the previous
// release's image; the first pass of the next daemon prunes it (the new container names it).
func TestPruneAfterKillBetweenCommitAndPrune(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const v2 = "localhost/lnd:2"
		rt, o := setup(orchestrator.Options{})
		rt.AddImage(v2)
		ctx := context.Background()
		if _, err := o.Install(ctx, newApp("lnd")); err != nil {
			t.Fatal(err)
		}
		old := idOf(t, rt, image)
		if _, err := o.Install(ctx, upgraded(v2)); err != nil { // committed; killed before a pass
			t.Fatal(err)
		}
		o = restart(rt)
		if err := o.RegisterAll(ctx, upgraded(v2)); err != nil {
			t.Fatal(err)
		}
		if rep := o.ReconcileAll(ctx); !rep.Converged() || rep.Acted() != 0 {
			t.Fatalf("pass: %v", rep)
		}
		if got := imageIDs(t, rt); slices.Contains(got, old) || !slices.Contains(got, idOf(t, rt, v2)) {
			t.Fatalf("images %v: want %s pruned, %s kept", got, old, v2)
		}
	})
}
