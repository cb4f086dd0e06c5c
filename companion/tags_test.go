package companion_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/quadlet"
	qfake "github.com/skerry-dev/skerry/quadlet/fake"
	"github.com/skerry-dev/skerry/runtime"
	rfake "github.com/skerry-dev/skerry/runtime/fake"
)

// podmanUnits is the fake systemd with what a companion unit's `podman run --replace` does to
// the engine: a start or restart that took effect (a crash right after it included) recreates
// the companion's container from what its image tag names then.
type podmanUnits struct {
	*qfake.Manager
	rt   *rfake.Runtime
	apps map[string]string // companion name -> app
	refs map[string]string // companion name -> image
}

func (u *podmanUnits) Start(ctx context.Context, unit string) (err error) {
	defer u.recreateIfDone(unit, &err)
	return u.Manager.Start(ctx, unit)
}

func (u *podmanUnits) Restart(ctx context.Context, unit string) (err error) {
	defer u.recreateIfDone(unit, &err)
	return u.Manager.Restart(ctx, unit)
}

// recreateIfDone recreates unit's container when the call took effect, and passes a crash on.
func (u *podmanUnits) recreateIfDone(unit string, err *error) {
	r := recover()
	if c, crashed := r.(qfake.Crash); (r == nil && *err == nil) || (crashed && c.After) {
		name := unit[:len(unit)-len(".service")]
		u.rt.RemoveExternally(name)
		u.rt.CreateExternally(runtime.ContainerSpec{Name: name, Image: u.refs[name],
			Labels: map[string]string{companion.LabelCompanionOf: u.apps[name]}}, runtime.StateRunning)
	}
	if r != nil {
		panic(r)
	}
}

type tagEnv struct {
	dir   string
	units *podmanUnits
	rt    *rfake.Runtime
}

func newTagEnv(t *testing.T) tagEnv {
	dir := t.TempDir()
	rt := rfake.New()
	rt.AddImage(uiImage)
	return tagEnv{dir: dir, rt: rt, units: &podmanUnits{Manager: qfake.New(dir), rt: rt, apps: map[string]string{}, refs: map[string]string{}}}
}

// manager returns a new manager (a daemon that starts) with app's companions registered.
func (e tagEnv) manager(t *testing.T, opts companion.Options, app string, specs ...companion.Spec) *companion.Manager {
	t.Helper()
	opts.Dir, opts.Logger = e.dir, quiet
	m, err := companion.New(e.units, e.rt, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Register(app, specs...); err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		e.units.apps[s.Name], e.units.refs[s.Name] = app, s.Image
	}
	return m
}

// imageOf returns the image ID name's container runs (no runtime call counted by the tests).
func (e tagEnv) imageOf(t *testing.T, name string) string {
	t.Helper()
	obs, err := e.rt.Inspect(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return obs.ImageID
}

func (e tagEnv) tagID(t *testing.T, ref string) string {
	t.Helper()
	id, err := e.rt.ImageID(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// calls returns the runtime calls made by f: image resolutions and lists.
func (e tagEnv) calls(f func()) [2]int {
	id, list := e.rt.Calls(rfake.OpImageID), e.rt.Calls(rfake.OpList)
	f()
	return [2]int{e.rt.Calls(rfake.OpImageID) - id, e.rt.Calls(rfake.OpList) - list}
}

type moved struct {
	Unit     string
	Action   companion.Action
	TagMoved bool
	Err      bool
}

func movedOf(reps []companion.UnitReport) []moved {
	var out []moved
	for _, r := range reps {
		out = append(out, moved{r.Unit, r.Action, r.TagMoved, r.Err != nil})
	}
	return out
}

// A tag moved behind skerry's back is noticed by the first Reconcile ImageRecheck after the tag
// was last resolved: both companions on it restart onto the new image, for one image
// resolution and one List; the passes between make no runtime call.
func TestMovedTagRestartsCompanionsAfterImageRecheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		e := newTagEnv(t)
		m := e.manager(t, companion.Options{}, "lnd", uiSpec("lnd-ui"), uiSpec("lnd-rest"))
		if got := e.calls(func() {
			if err := m.Install(ctx, "lnd"); err != nil {
				t.Fatal(err)
			}
		}); got != [2]int{1, 1} {
			t.Fatalf("install: %v image resolutions and lists, want one each", got)
		}
		idle := []moved{{"lnd-rest.service", companion.ActionNone, false, false}, {"lnd-ui.service", companion.ActionNone, false, false}}
		e.rt.MoveTag(uiImage)
		var reps []companion.UnitReport
		if got := e.calls(func() { reps = m.Reconcile(ctx) }); got != [2]int{} || !cmp.Equal(movedOf(reps), idle) {
			t.Fatalf("a pass before ImageRecheck: calls %v, %+v", got, movedOf(reps))
		}
		time.Sleep(companion.DefaultImageRecheck)
		if got := e.calls(func() { reps = m.Reconcile(ctx) }); got != [2]int{1, 1} {
			t.Fatalf("the pass after ImageRecheck: %v image resolutions and lists, want one each", got)
		}
		want := []moved{{"lnd-rest.service", companion.ActionRestarted, true, false}, {"lnd-ui.service", companion.ActionRestarted, true, false}}
		if diff := cmp.Diff(want, movedOf(reps)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
		for _, name := range []string{"lnd-ui", "lnd-rest"} {
			if e.imageOf(t, name) != e.tagID(t, uiImage) {
				t.Fatalf("%s still runs the old image", name)
			}
		}
		if got := e.calls(func() { reps = m.Reconcile(ctx) }); got != [2]int{} || !cmp.Equal(movedOf(reps), idle) {
			t.Fatalf("the next pass: calls %v, %+v", got, movedOf(reps))
		}
	})
}

// An Install resolves its companions' tags at once; a negative ImageRecheck or a digest
// reference resolves nothing and restarts nothing.
func TestMovedTagOnInstallAndWhenNeverResolved(t *testing.T) {
	const digest = "localhost/btc-ui@sha256:0000000000000000000000000000000000000000000000000000000000000001"
	for _, tc := range []struct {
		name    string
		opts    companion.Options
		image   string
		restart bool
	}{
		{"tag", companion.Options{}, uiImage, true},
		{"recheck off", companion.Options{ImageRecheck: -1}, uiImage, false},
		{"digest", companion.Options{}, digest, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				e := newTagEnv(t)
				e.rt.AddImage(digest)
				m := e.manager(t, tc.opts, "lnd", withImage(uiSpec("lnd-ui"), tc.image))
				if err := m.Install(ctx, "lnd"); err != nil {
					t.Fatal(err)
				}
				e.rt.MoveTag(tc.image)
				restarts := e.units.Calls("restart")
				var err error
				got := e.calls(func() { err = m.Install(ctx, "lnd") })
				time.Sleep(companion.DefaultImageRecheck)
				got2 := e.calls(func() { m.Reconcile(ctx) })
				if err != nil {
					t.Fatal(err)
				}
				if tc.restart != (e.units.Calls("restart") == restarts+1) || (e.imageOf(t, "lnd-ui") == e.tagID(t, tc.image)) != tc.restart {
					t.Fatalf("restarts %d -> %d, want a restart: %v", restarts, e.units.Calls("restart"), tc.restart)
				}
				if !tc.restart && (got != [2]int{} || got2 != [2]int{}) {
					t.Fatalf("resolved although it never should: %v %v", got, got2)
				}
			})
		})
	}
}

// A companion whose unit does not run is started as any inactive one is, not restarted; a
// restart onto a moved tag that fails is reported, and the next pass looks again.
func TestMovedTagStoppedCompanionAndFailedRestart(t *testing.T) {
	ctx := context.Background()
	e := newTagEnv(t)
	m := e.manager(t, companion.Options{}, "lnd", uiSpec("lnd-ui"))
	if err := m.Install(ctx, "lnd"); err != nil {
		t.Fatal(err)
	}
	e.rt.MoveTag(uiImage)
	e.units.StopExternally("lnd-ui.service")
	want := []moved{{"lnd-ui.service", companion.ActionStarted, false, false}}
	if reps := e.manager(t, companion.Options{}, "lnd", uiSpec("lnd-ui")).Reconcile(ctx); !cmp.Equal(movedOf(reps), want) {
		t.Fatalf("stopped: %+v", movedOf(reps))
	}
	e.rt.MoveTag(uiImage)
	e.units.FailNext("restart", errors.New("job failed"))
	if err := m.Install(ctx, "lnd"); err == nil {
		t.Fatal("a failed restart onto the moved tag went unreported")
	}
	var reps []companion.UnitReport
	if got := e.calls(func() { reps = m.Reconcile(ctx) }); got != [2]int{1, 1} {
		t.Fatalf("the pass after the failed restart: %v image resolutions and lists, want one each", got)
	}
	if want := []moved{{"lnd-ui.service", companion.ActionRestarted, true, false}}; !cmp.Equal(movedOf(reps), want) {
		t.Fatalf("after a failed restart: %+v", movedOf(reps))
	}
	if e.imageOf(t, "lnd-ui") != e.tagID(t, uiImage) {
		t.Fatal("still on the old image")
	}
}

// A daemon that dies before or after any restart onto a moved tag leaves a node that the next
// daemon's first pass converges: every companion on the tag's image, active, and a second pass
// does nothing.
func TestMovedTagCrashWindows(t *testing.T) {
	ctx := context.Background()
	specs := []companion.Spec{uiSpec("lnd-ui"), uiSpec("lnd-rest")}
	prepare := func(t *testing.T) (tagEnv, *companion.Manager) {
		e := newTagEnv(t)
		m := e.manager(t, companion.Options{}, "lnd", specs...)
		if err := m.Install(ctx, "lnd"); err != nil {
			t.Fatal(err)
		}
		e.rt.MoveTag(uiImage)
		e.units.Journal()
		return e, m
	}
	e, m := prepare(t)
	if _, err := runToCrash(func() error { return m.Install(ctx, "lnd") }); err != nil {
		t.Fatal(err)
	}
	steps := e.units.Journal()
	if !slices.Equal(steps, []string{"restart lnd-rest.service", "restart lnd-ui.service"}) {
		t.Fatalf("steps %v", steps)
	}
	for i, step := range steps {
		for _, after := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v %s", map[bool]string{false: "before", true: "after"}[after], step), func(t *testing.T) {
				e, m := prepare(t)
				e.units.CrashAt(i+1, after)
				if crash, _ := runToCrash(func() error { return m.Install(ctx, "lnd") }); crash == nil || crash.Step != step {
					t.Fatalf("crash %+v, want one at %q", crash, step)
				}
				next := e.manager(t, companion.Options{}, "lnd", specs...)
				if err := reportsErr(next.Reconcile(ctx)); err != nil {
					t.Fatal(err)
				}
				for _, s := range specs {
					if e.imageOf(t, s.Name) != e.tagID(t, uiImage) || e.units.State(quadlet.ServiceName(s.Name)).ActiveState != "active" {
						t.Fatalf("%s not converged onto the moved tag", s.Name)
					}
				}
				idle := []moved{{"lnd-rest.service", companion.ActionNone, false, false}, {"lnd-ui.service", companion.ActionNone, false, false}}
				if reps := e.manager(t, companion.Options{}, "lnd", specs...).Reconcile(ctx); !cmp.Equal(movedOf(reps), idle) {
					t.Fatalf("a second pass acted: %+v", movedOf(reps))
				}
			})
		}
	}
}

func TestImageRecheckDefaultIsTheOrchestrators(t *testing.T) {
	if companion.DefaultImageRecheck != orchestrator.DefaultImageRecheck {
		t.Fatalf("companion %v, orchestrator %v", companion.DefaultImageRecheck, orchestrator.DefaultImageRecheck)
	}
}
