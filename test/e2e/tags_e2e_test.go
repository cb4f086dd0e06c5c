//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package e2e_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/skerry-dev/skerry/orchestrator"
)

// TestMovedTagOnPodman: an app runs a local tag; each step moves the tag (a build by hand) and
// runs one pass of a freshly started daemon, which resolves the tag at its first pass. A good
// image is upgraded to; an image that does not come up is rolled back onto the very container
// that ran and held there, across daemon restarts (the spec did not change: the FAILED record's
// image is the record); moving the tag again, to a good image, releases the hold. The images
// the tag left behind are pruned once unused.
func TestMovedTagOnPodman(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	name := uniq("tag")
	tag := "localhost/" + name + ":latest"
	build := movingTag(t, tag)

	first := build("first", goodRelease("1"))
	a := app(name)
	a.Container.Image = tag
	n.install(t, a)
	if got := n.mustBeHealthy(t, a.Name).ImageID; got != first {
		t.Fatalf("runs %s, want %s", got, first)
	}
	pass := func() orchestrator.AppReport {
		t.Helper()
		o := orchestrator.New(n.rt, orchestrator.Options{Logger: logger, Companions: n.comps})
		if err := o.RegisterAll(ctx, a); err != nil {
			t.Fatal(err)
		}
		return appReport(t, o.ReconcileAll(ctx), a.Name)
	}

	second := build("second", goodRelease("2"))
	if r := pass(); !r.OK() || r.Action != orchestrator.ActionRecreate {
		t.Fatalf("tag moved to a good image: %+v", r)
	}
	held := n.mustBeHealthy(t, a.Name)
	if held.ImageID != second || n.containersOf(t, a.Name) != 1 {
		t.Fatalf("runs %s in %d containers, want %s alone", held.ImageID, n.containersOf(t, a.Name), second)
	}

	bad := build("broken", goodRelease("3")+"ENTRYPOINT [\"false\"]\n")
	r := pass()
	if !errors.Is(r.Err, orchestrator.ErrRolledBack) || r.Rollback == nil || !r.Rollback.TagHold() || r.Rollback.FailedImageID != bad {
		t.Fatalf("tag moved to a broken image: %+v", r)
	}
	for i := range 2 {
		r := pass()
		if !r.OK() || r.Action != orchestrator.ActionNone || r.Rollback == nil || r.Rollback.ImageID != second {
			t.Fatalf("restart %d, tag still on the broken image: %+v", i, r)
		}
		if o := n.mustBeHealthy(t, a.Name); o.ID != held.ID || o.ImageID != second {
			t.Fatalf("restart %d: runs %s (%s), want the container %s that ran", i, o.ID, o.ImageID, held.ID)
		}
		if got := n.containersOf(t, a.Name); got != 2 {
			t.Fatalf("restart %d: %d containers of the app, want it and its FAILED record", i, got)
		}
	}

	fixed := build("fixed", goodRelease("4"))
	if r := pass(); !r.OK() || r.Rollback != nil {
		t.Fatalf("tag moved again, to a good image: %+v", r)
	}
	if o := n.mustBeHealthy(t, a.Name); o.ImageID != fixed || n.containersOf(t, a.Name) != 1 {
		t.Fatalf("runs %s in %d containers, want %s alone", o.ImageID, n.containersOf(t, a.Name), fixed)
	}
	// The committed upgrades pruned what the tag left behind, the failed image included once
	// its record went; the running image stays.
	for _, id := range []string{first, second, bad} {
		if exec.Command("podman", "image", "exists", id).Run() == nil {
			t.Errorf("image %s was not pruned", id[:12])
		}
	}
	if err := exec.Command("podman", "image", "exists", fixed).Run(); err != nil {
		t.Errorf("the running image %s is gone: %v", fixed[:12], err)
	}
}

// movingTag returns build, which builds an image from containerfile and tags it tag, as a user
// moving a tag by hand would, and returns its ID; every image it built is removed when the test
// ends (call it before installing: cleanups run last first, so after the uninstall).
func movingTag(t *testing.T, tag string) (build func(step, containerfile string) string) {
	var built []string
	t.Cleanup(func() {
		for _, id := range built {
			_ = exec.Command("podman", "rmi", "-f", id).Run()
		}
	})
	return func(step, containerfile string) string {
		t.Helper()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(containerfile), 0o644); err != nil {
			t.Fatal(err)
		}
		podmanCLI(t, "build", "-q", "-t", tag, dir)
		id := podmanCLI(t, "image", "inspect", "-f", "{{.Id}}", tag)
		built = append(built, id)
		t.Logf("%s: %s is %s", step, tag, id[:12])
		return id
	}
}

// goodRelease is the Containerfile of working release n: the test image with a label.
func goodRelease(n string) string {
	return "FROM " + image + "\nLABEL io.skerry.e2e.release=" + n + "\n"
}
