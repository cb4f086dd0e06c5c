//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"

	"github.com/skerry-dev/skerry/runtime"
)

// TestBuild builds an image from a context directory with a .containerignore and runs it: the
// context reached the build without the ignored file; a failing instruction is Build's error.
func TestBuild(t *testing.T) {
	r := connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Containerfile", "FROM "+testImage+"\nCOPY . /ctx/\n")
	write("a.txt", "a")
	write("x.log", "ignored")
	write(".containerignore", "*.log\n")
	write("Bad.containerfile", "FROM "+testImage+"\nRUN false\n")
	tag := "localhost/" + uniq("skerry-build") + ":1"
	name := uniq("build")
	// Builds may leave working containers in podman's storage (the request says rm=0, as the
	// bindings send it by default; none seen with podman 5.4.2): the cleanup removes any the test
	// made and logs their number, and what a run whose cleanup did not finish left.
	sweepBuildLeftovers(t, r)
	before := externalContainers(t, r)
	t.Cleanup(func() {
		ctx := context.Background()
		_ = r.Remove(ctx, name, runtime.RemoveOptions{Force: true})
		removed := 0
		for id := range externalContainers(t, r) {
			if !before[id] {
				if _, err := containers.Remove(r.with(ctx), id, new(containers.RemoveOptions).WithForce(true)); err == nil {
					removed++
				}
			}
		}
		t.Logf("removed %d working containers of the builds", removed)
		sweepBuildLeftovers(t, r)
	})

	if err := r.Build(ctx, runtime.BuildOptions{ContextDir: dir, Tag: tag}); err != nil {
		t.Fatalf("Build: %v", err)
	}
	if ok, err := r.ImageExists(ctx, tag); err != nil || !ok {
		t.Fatalf("ImageExists(%s) = %v, %v after Build", tag, ok, err)
	}
	spec := runtime.ContainerSpec{Name: name, Image: tag,
		Command: []string{"sh", "-c", "test -f /ctx/a.txt && test -f /ctx/Containerfile && test ! -e /ctx/x.log"}}
	if err := r.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := r.WaitExit(ctx, name); err != nil {
		t.Fatal(err)
	}
	if o, err := r.Inspect(ctx, name); err != nil || o.ExitCode != 0 {
		t.Fatalf("the built image's context check: exit code %d, %v (want 0: a.txt and Containerfile there, x.log left out)", o.ExitCode, err)
	}

	err := r.Build(ctx, runtime.BuildOptions{ContextDir: dir, Containerfile: "Bad.containerfile", Tag: tag + "-bad"})
	if err == nil {
		_ = r.DeleteImage(context.Background(), tag+"-bad")
		t.Fatal("Build of a Containerfile whose RUN fails succeeded")
	}
}

// externalContainers returns the IDs of every container in podman's storage, build working
// containers included.
func externalContainers(t *testing.T, r *Runtime) map[string]bool {
	t.Helper()
	list, err := containers.List(r.with(context.Background()), new(containers.ListOptions).WithAll(true).WithExternal(true))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, c := range list {
		ids[c.ID] = true
	}
	return ids
}

// sweepBuildLeftovers removes the images TestBuild tags and the build working containers of
// the test image ("busybox-working-container..."), which only builds leave.
func sweepBuildLeftovers(t *testing.T, r *Runtime) {
	t.Helper()
	ctx := context.Background()
	list, err := containers.List(r.with(ctx), new(containers.ListOptions).WithAll(true).WithExternal(true))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		if len(c.Names) > 0 && strings.Contains(c.Names[0], "-working-container") && !isPodmanContainer(ctx, r, c.ID) {
			_, _ = containers.Remove(r.with(ctx), c.ID, new(containers.RemoveOptions).WithForce(true))
		}
	}
	imgs, err := r.Images(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range imgs {
		for _, n := range im.Names {
			if strings.HasPrefix(n, "localhost/skerry-build-") {
				_ = r.DeleteImage(ctx, im.ID)
				break
			}
		}
	}
}

// isPodmanContainer reports whether id is a podman container (not only a storage one).
func isPodmanContainer(ctx context.Context, r *Runtime, id string) bool {
	_, err := r.Inspect(ctx, id)
	return err == nil
}
