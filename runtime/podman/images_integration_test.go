//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/skerry-dev/skerry/runtime"
)

// Images lists what a moved tag left behind (nameless, the tag in its history, its
// containers counted), and DeleteImage refuses an image a container uses (ErrImageInUse),
// removes it once unused, and says ErrImageNotFound after.
func TestImagesAndDeleteImage(t *testing.T) {
	r := connect(t)
	ctx := context.Background()
	tag := fmt.Sprintf("localhost/skerry-prune-%05d:latest", rand.IntN(100000))
	ctr := strings.TrimPrefix(strings.TrimSuffix(tag, ":latest"), "localhost/")
	cli := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("podman", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("podman %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	var ids []string
	build := func(release string) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte("FROM localhost/busybox:latest\nLABEL release="+release+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cli("build", "-q", "-t", tag, dir)
		id := cli("image", "inspect", "-f", "{{.Id}}", tag)
		ids = append(ids, id)
		return id
	}
	t.Cleanup(func() {
		_ = exec.Command("podman", "rm", "-f", ctr).Run()
		for _, id := range ids {
			_ = exec.Command("podman", "rmi", "-f", id).Run()
		}
	})
	first := build("1")
	cli("create", "--name", ctr, tag, "true")
	build("2") // the tag moves; the container keeps the first image
	images, err := r.Images(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(images, func(im runtime.Image) bool { return im.ID == first })
	if i < 0 {
		t.Fatalf("the first image is not listed: %+v", images)
	}
	if im := images[i]; len(im.Names) != 0 || !slices.Contains(im.History, tag) || im.Containers != 1 {
		t.Fatalf("the image the tag left: %+v, want no name, %s in its history, 1 container", im, tag)
	}
	if err := r.DeleteImage(ctx, first); !errors.Is(err, runtime.ErrImageInUse) {
		t.Fatalf("delete of an image in use: %v, want ErrImageInUse", err)
	}
	cli("rm", ctr)
	if err := r.DeleteImage(ctx, first); err != nil {
		t.Fatalf("delete of the unused image: %v", err)
	}
	if err := r.DeleteImage(ctx, first); !errors.Is(err, runtime.ErrImageNotFound) {
		t.Fatalf("delete of a deleted image: %v, want ErrImageNotFound", err)
	}
}
