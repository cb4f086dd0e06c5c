package orchestrator_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

// portRuntime is the fake with one host port per app, as the release's published port is on a
// real host: a container cannot start while another container of its app (a PREV record whose
// stop has not finished) runs.
type portRuntime struct {
	*fake.Runtime
}

func (r portRuntime) Start(ctx context.Context, name string) error {
	_, me, _ := r.Container(name)
	for _, other := range r.Names() {
		if _, obs, _ := r.Container(other); other != name && obs.App() == me.App() && obs.State == runtime.StateRunning {
			return fmt.Errorf("start %s: host port already in use (by %s)", name, other)
		}
	}
	return r.Runtime.Start(ctx, name)
}

// TestCrashDuringUpgradeConverges: a daemon killed at any point of an upgrade from v1 leaves the
// host in one of these states; a daemon restarted with the new release in its config converges
// on the new release when it is good, and on v1, held with the FAILED record, when it is not
// (never a plain recreate onto the failed release). The same holds for the upgrade of a moved
// tag (the spec unchanged, its tag names a new image): held on the old image ID, with the new
// one's FAILED record, also in the restarted daemon.
func TestCrashDuringUpgradeConverges(t *testing.T) {
	const v2 = "localhost/lnd:2"
	// left arranges the host as the killed daemon left it; lnd.PREV is v1, still running.
	windows := []struct {
		name string
		left func(t *testing.T, rt *fake.Runtime, next orchestrator.App)
	}{
		{"after rename", func(t *testing.T, rt *fake.Runtime, next orchestrator.App) {}},
		{"during stop, which ends 100ms into the next daemon", stopEndsAfter(100 * time.Millisecond)},
		{"during stop, which ends 500ms into the next daemon", stopEndsAfter(500 * time.Millisecond)},
		{"during stop, which ends 1s into the next daemon", stopEndsAfter(time.Second)},
		{"during stop, which ends 2500ms into the next daemon", stopEndsAfter(2500 * time.Millisecond)},
		{"during stop, which ends 5s into the next daemon", stopEndsAfter(5 * time.Second)},
		{"stop still on its way, ends 100ms into the next daemon", stopLands(100 * time.Millisecond)},
		{"after stop", func(t *testing.T, rt *fake.Runtime, next orchestrator.App) { rt.KillExternally("lnd.PREV") }},
		{"after stop, and the restore's start fails once", func(t *testing.T, rt *fake.Runtime, next orchestrator.App) {
			rt.KillExternally("lnd.PREV")
			rt.FailNth(fake.OpStart, 1, errors.New("engine hiccup"))
		}},
		{"restored by a daemon killed in turn, the first stop under way", func(t *testing.T, rt *fake.Runtime, next orchestrator.App) {
			stopEndsAfter(time.Second)(t, rt, next)
			if err := rt.Rename(context.Background(), "lnd.PREV", "lnd"); err != nil {
				t.Fatal(err)
			}
		}},
		{"restored by a daemon killed in turn, then ended by the first stop", func(t *testing.T, rt *fake.Runtime, next orchestrator.App) {
			if err := rt.Rename(context.Background(), "lnd.PREV", "lnd"); err != nil {
				t.Fatal(err)
			}
			rt.KillExternally("lnd")
		}},
		{"after create", func(t *testing.T, rt *fake.Runtime, next orchestrator.App) {
			rt.KillExternally("lnd.PREV")
			rt.CreateExternally(orchestrator.SpecOf(restart(rt), next), runtime.StateCreated)
		}},
		{"after start", func(t *testing.T, rt *fake.Runtime, next orchestrator.App) {
			rt.KillExternally("lnd.PREV")
			rt.CreateExternally(orchestrator.SpecOf(restart(rt), next), runtime.StateCreated)
			if err := rt.Start(context.Background(), "lnd"); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, w := range windows {
		for _, good := range []bool{true, false} {
			for _, moved := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/good=%v/moved-tag=%v", w.name, good, moved), func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						rt, o := setup(orchestrator.Options{})
						ctx := context.Background()
						v1 := newApp("lnd")
						if _, err := o.Install(ctx, v1); err != nil {
							t.Fatal(err)
						}
						next, broken := upgraded(v2), v2
						rt.AddImage(v2)
						if moved {
							next = v1
							rt.MoveTag(image)
							broken, _ = rt.ImageID(ctx, image)
						}
						if !good {
							rt.SetImageBehaviour(broken, fake.Behaviour{DieAfter: time.Second, ExitCode: 9})
						}
						_, before, _ := rt.Container("lnd")
						if err := rt.Rename(ctx, "lnd", "lnd.PREV"); err != nil {
							t.Fatal(err)
						}
						w.left(t, rt, next)

						o = orchestrator.New(portRuntime{rt}, orchestrator.Options{Logger: quiet})
						if err := o.RegisterAll(ctx, next); err != nil {
							t.Fatal(err)
						}
						var rep orchestrator.Report
						for range 4 {
							rep = o.ReconcileAll(ctx)
							time.Sleep(orchestrator.BackoffMax)
						}
						if rep = o.ReconcileAll(ctx); !rep.Converged() || rep.Acted() != 0 {
							t.Fatalf("not converged: %v; engine: %s", rep, rt)
						}
						after := assertRunningHealthy(t, rt, "lnd")
						wantImage, wantNames := v2, []string{"lnd"}
						if moved {
							wantImage = image
							if good != (after.ImageID != before.ImageID) {
								t.Fatalf("runs image %s (was %s), want the moved tag's only when good", after.ImageID, before.ImageID)
							}
						}
						if !good {
							wantImage, wantNames = image, []string{"lnd", "lnd.FAILED"}
							r, held := o.Held("lnd")
							if !held || (!moved && r.FailedImage != v2) || r.Image != image || (moved && (r.FailedImageID != broken || !r.TagHold())) {
								t.Fatalf("not held on %s: %+v %v", image, r, held)
							}
						}
						if spec, _, _ := rt.Container("lnd"); spec.Image != wantImage {
							t.Fatalf("runs %s, want %s", spec.Image, wantImage)
						}
						if got := rt.Names(); !cmp.Equal(got, wantNames) {
							t.Fatalf("containers %v, want %v", got, wantNames)
						}
					})
				})
			}
		}
	}
}

// stopEndsAfter leaves lnd.PREV running, with the killed daemon's stop of it still under way in
// the engine: it ends d later, whatever the container is called by then.
func stopEndsAfter(d time.Duration) func(*testing.T, *fake.Runtime, orchestrator.App) {
	return func(t *testing.T, rt *fake.Runtime, next orchestrator.App) {
		_, prev, _ := rt.Container("lnd.PREV")
		rt.SetState("lnd.PREV", runtime.StateStopping) // as podman's: start refused, stop waits
		go func() {
			time.Sleep(d)
			for _, n := range rt.Names() {
				if _, obs, _ := rt.Container(n); obs.ID == prev.ID && obs.State == runtime.StateStopping {
					rt.SetState(n, runtime.StateRunning)
					rt.KillExternally(n)
				}
			}
		}()
	}
}

// stopLands leaves lnd.PREV running, with the killed daemon's stop of it not yet seen by the
// engine: it lands d later and ends the container, whatever it is called by then.
func stopLands(d time.Duration) func(*testing.T, *fake.Runtime, orchestrator.App) {
	return func(t *testing.T, rt *fake.Runtime, next orchestrator.App) {
		_, prev, _ := rt.Container("lnd.PREV")
		go func() {
			time.Sleep(d)
			for _, n := range rt.Names() {
				if _, obs, _ := rt.Container(n); obs.ID == prev.ID {
					rt.KillExternally(n)
				}
			}
		}()
	}
}
