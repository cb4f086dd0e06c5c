package orchestrator_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

// A tag moved behind skerry's back (a pull or build by hand) is noticed by the first pass after
// Options.ImageRecheck and upgrades the app onto the tag's new image; the passes before it stay
// one List call, and the one after it resolves each distinct tag once.
func TestMovedTagUpgradesAfterRecheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		for i := range 10 {
			if _, err := o.Install(ctx, newApp(fmt.Sprintf("app%d", i))); err != nil {
				t.Fatal(err)
			}
		}
		o.ReconcileAll(ctx) // the first pass also looks for networks to remove
		before := assertRunningHealthy(t, rt, "app0")
		rt.MoveTag(image)
		moved, _ := rt.ImageID(ctx, image)
		rt.ResetCalls()
		if rep := o.ReconcileAll(ctx); rep.Acted() != 0 || rt.TotalCalls() != 1 {
			t.Fatalf("pass within ImageRecheck: %v, %d calls, want a no-op List", rep, rt.TotalCalls())
		}
		time.Sleep(orchestrator.DefaultImageRecheck)
		rt.ResetCalls()
		rep := o.ReconcileAll(ctx)
		if !rep.Converged() || rep.Acted() != 10 || rt.Calls(fake.OpImageID) != 1 {
			t.Fatalf("pass after ImageRecheck: %v, %d image-id calls, want 10 upgrades after 1", rep, rt.Calls(fake.OpImageID))
		}
		if !strings.Contains(rep.Apps[0].Reason, "moved") {
			t.Fatalf("reason %q does not say the tag moved", rep.Apps[0].Reason)
		}
		after := assertRunningHealthy(t, rt, "app0")
		if after.ImageID != moved || after.ID == before.ID {
			t.Fatalf("runs %s (container %s), want %s in a new container", after.ImageID, after.ID, moved)
		}
		if got := len(rt.Names()); got != 10 {
			t.Fatalf("%d containers left (PREV records?): %v", got, rt.Names())
		}
		rt.ResetCalls()
		if rep := o.ReconcileAll(ctx); rep.Acted() != 0 || rt.TotalCalls() != 1 {
			t.Fatalf("pass after the upgrade: %v, %d calls", rep, rt.TotalCalls())
		}
	})
}

// An explicit Install resolves the tag afresh: a tag just moved is upgraded at once.
func TestInstallUpgradesMovedTag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		if _, err := o.Install(ctx, newApp("lnd")); err != nil {
			t.Fatal(err)
		}
		rt.MoveTag(image)
		moved, _ := rt.ImageID(ctx, image)
		rep, err := o.Install(ctx, newApp("lnd"))
		if err != nil || rep.Action != orchestrator.ActionRecreate {
			t.Fatalf("Install: %v %v", rep, err)
		}
		if got := assertRunningHealthy(t, rt, "lnd").ImageID; got != moved {
			t.Fatalf("runs %s, want %s", got, moved)
		}
	})
}

// A runtime without ImageRecheck (< 0) or without runtime.ImageResolver gets no moved-tag drift.
func TestMovedTagIgnoredWhenDisabled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{ImageRecheck: -1})
		ctx := context.Background()
		if _, err := o.Install(ctx, newApp("lnd")); err != nil {
			t.Fatal(err)
		}
		o.ReconcileAll(ctx) // the first pass also looks for networks to remove
		rt.MoveTag(image)
		time.Sleep(orchestrator.DefaultImageRecheck)
		rt.ResetCalls()
		if rep := o.ReconcileAll(ctx); rep.Acted() != 0 || rt.TotalCalls() != 1 {
			t.Fatalf("pass: %v, %d calls", rep, rt.TotalCalls())
		}
	})
}

// A moved tag whose image does not come up is rolled back and held on the image the app ran, in
// this daemon and in a restarted one (the spec unchanged: the FAILED record's image is the
// record); the hold ends when the tag moves again, to a good image.
func TestMovedTagFailureIsHeldAcrossRestarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		if _, err := o.Install(ctx, newApp("lnd")); err != nil {
			t.Fatal(err)
		}
		good := assertRunningHealthy(t, rt, "lnd")
		rt.MoveTag(image)
		bad, _ := rt.ImageID(ctx, image)
		rt.SetImageBehaviour(bad, fake.Behaviour{DieAfter: time.Second, ExitCode: 9})
		_, err := o.Install(ctx, newApp("lnd"))
		if !errors.Is(err, orchestrator.ErrRolledBack) {
			t.Fatalf("err = %v, want ErrRolledBack", err)
		}
		want := orchestrator.Rollback{FailedImage: image, FailedImageID: bad, FailedHash: specHash(newApp("lnd")),
			Image: image, ImageID: good.ImageID, Hash: specHash(newApp("lnd"))}
		for _, daemon := range []string{"same", "restarted"} {
			if daemon == "restarted" {
				o = restart(rt)
				if err := o.RegisterAll(ctx, newApp("lnd")); err != nil {
					t.Fatal(err)
				}
			}
			creates := rt.Calls(fake.OpCreate)
			for range 3 {
				rep := o.ReconcileAll(ctx)
				if rep.Acted() != 0 || rep.Apps[0].Rollback == nil {
					t.Fatalf("%s daemon: %v, want held", daemon, rep)
				}
				time.Sleep(orchestrator.DefaultImageRecheck)
			}
			if r, held := o.Held("lnd"); !held || !r.TagHold() {
				t.Fatalf("%s daemon: held=%v %+v", daemon, held, r)
			} else if diff := cmp.Diff(want, r); diff != "" {
				t.Fatalf("%s daemon: rollback (-want +got):\n%s", daemon, diff)
			}
			if rt.Calls(fake.OpCreate) != creates || assertRunningHealthy(t, rt, "lnd").ID != good.ID {
				t.Fatalf("%s daemon tried the failed image again", daemon)
			}
			if got := rt.Names(); !cmp.Equal(got, []string{"lnd", "lnd.FAILED"}) {
				t.Fatalf("containers %v", got)
			}
		}
		rt.MoveTag(image) // a fixed image
		fixed, _ := rt.ImageID(ctx, image)
		time.Sleep(orchestrator.DefaultImageRecheck)
		if rep := o.ReconcileAll(ctx); !rep.Converged() || rep.Apps[0].Rollback != nil {
			t.Fatalf("after the tag moved again: %v", rep)
		}
		if got := assertRunningHealthy(t, rt, "lnd").ImageID; got != fixed {
			t.Fatalf("runs %s, want %s", got, fixed)
		}
		if got := rt.Names(); !cmp.Equal(got, []string{"lnd"}) {
			t.Fatalf("containers %v, want the FAILED record gone", got)
		}
	})
}

// A changed spec releases a moved tag's hold, as any hold.
func TestMovedTagHoldReleasedBySpecChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		if _, err := o.Install(ctx, newApp("lnd")); err != nil {
			t.Fatal(err)
		}
		rt.MoveTag(image)
		bad, _ := rt.ImageID(ctx, image)
		rt.SetImageBehaviour(bad, fake.Behaviour{DieAfter: time.Second, ExitCode: 9})
		if _, err := o.Install(ctx, newApp("lnd")); !errors.Is(err, orchestrator.ErrRolledBack) {
			t.Fatalf("err = %v", err)
		}
		const v2 = "localhost/lnd:2"
		rt.AddImage(v2)
		if _, err := o.Install(ctx, upgraded(v2)); err != nil {
			t.Fatal(err)
		}
		if _, held := o.Held("lnd"); held {
			t.Fatal("still held")
		}
		if spec, _, _ := rt.Container("lnd"); spec.Image != v2 || !cmp.Equal(rt.Names(), []string{"lnd"}) {
			t.Fatalf("runs %s; containers %v", spec.Image, rt.Names())
		}
	})
}

// A digest reference cannot move: it is never resolved.
func TestDigestReferenceIsNeverResolved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const pinned = "localhost/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		rt, o := setup(orchestrator.Options{})
		rt.AddImage(pinned)
		ctx := context.Background()
		if _, err := o.Install(ctx, upgraded(pinned)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(orchestrator.DefaultImageRecheck)
		o.ReconcileAll(ctx)
		if n := rt.Calls(fake.OpImageID); n != 0 {
			t.Fatalf("%d image-id calls for a digest reference", n)
		}
		if _, obs, _ := rt.Container("lnd"); obs.State != runtime.StateRunning {
			t.Fatalf("lnd %v", obs.State)
		}
	})
}
