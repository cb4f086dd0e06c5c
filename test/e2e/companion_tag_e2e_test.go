//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/quadlet"
)

// TestCompanionMovedTagOnPodman: a companion runs a local tag; each step moves the tag (a build
// by hand) and runs one pass of a freshly started companion manager, which resolves the tag at
// its first pass. A good image: the unit is restarted and its container runs the new image. A
// broken image: the restart fails and is reported (a tag has no file to roll back to); moving
// the tag to a good image again brings the companion back at the next pass.
func TestCompanionMovedTagOnPodman(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	name := uniq("ctag")
	tag := "localhost/" + name + "-ui:latest"
	build := movingTag(t, tag)

	first := build("first", goodRelease("1"))
	a := app(name)
	c := ui(name)
	c.Image = tag
	n.install(t, a, c)
	unit := quadlet.ServiceName(c.Name)
	if got := n.obs(t, c.Name).ImageID; got != first {
		t.Fatalf("companion runs %s, want %s", got, first)
	}
	pass := func() companion.UnitReport {
		t.Helper()
		m, err := companion.New(n.units, n.rt, companion.Options{Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Register(a.Name, c); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		reps := m.Reconcile(ctx)
		if len(reps) != 1 || reps[0].Unit != unit {
			t.Fatalf("reports %+v", reps)
		}
		t.Logf("pass: %s in %v (%v)", reps[0].Action, time.Since(start).Round(time.Millisecond), reps[0].Err)
		return reps[0]
	}

	second := build("second", goodRelease("2"))
	if r := pass(); r.Err != nil || !r.TagMoved || r.Action != companion.ActionRestarted {
		t.Fatalf("tag moved to a good image: %+v", r)
	}
	if got := n.obs(t, c.Name).ImageID; got != second || n.unitState(t, unit).ActiveState != "active" {
		t.Fatalf("companion runs %s (%s), want %s, active", got, n.unitState(t, unit).ActiveState, second)
	}
	if r := pass(); r.Err != nil || r.TagMoved || r.Action != companion.ActionNone {
		t.Fatalf("a pass over the moved companion: %+v", r)
	}

	build("broken", goodRelease("3")+"ENTRYPOINT [\"false\"]\n")
	if r := pass(); r.Err == nil || !r.TagMoved {
		t.Fatalf("tag moved to a broken image: %+v, want a failed restart", r)
	}

	fixed := build("fixed", goodRelease("4"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := pass()
		st := n.unitState(t, unit)
		if got := n.obs(t, c.Name).ImageID; r.Err == nil && got == fixed && st.ActiveState == "active" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not back on the fixed image: %+v, unit %s/%s", r, st.ActiveState, st.SubState)
		}
		time.Sleep(time.Second)
	}
}
