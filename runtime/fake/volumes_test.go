package fake_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

// TestVolumeSnapshots: a restore puts back exactly what the snapshot held (changed files back,
// added files gone); a start of an image with writes writes into its volumes; a missing volume
// is ErrVolumeNotFound.
func TestVolumeSnapshots(t *testing.T) {
	rt := fake.New()
	ctx := context.Background()
	rt.WriteVolume("data", map[string]string{"a": "1", "b": "22"})
	if n, err := rt.VolumeSize(ctx, "data"); err != nil || n != 3 {
		t.Fatalf("VolumeSize = %d, %v; want 3", n, err)
	}
	file := filepath.Join(t.TempDir(), "data.snap")
	if err := rt.SnapshotVolume(ctx, "data", file); err != nil {
		t.Fatal(err)
	}
	rt.AddImage("img")
	rt.SetImageWrites("img", map[string]string{"a": "migrated", "c": "added"})
	spec := runtime.ContainerSpec{Name: "app", Image: "img", Mounts: []runtime.Mount{{Source: "data", Target: "/data"}}}
	if err := rt.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"a": "migrated", "b": "22", "c": "added"}, rt.VolumeFiles("data")); diff != "" {
		t.Fatalf("after the start (-want +got):\n%s", diff)
	}
	if err := rt.RestoreVolume(ctx, "data", file); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"a": "1", "b": "22"}, rt.VolumeFiles("data")); diff != "" {
		t.Fatalf("after the restore (-want +got):\n%s", diff)
	}
	rt.SetVolumeSize("data", 1<<40)
	if n, _ := rt.VolumeSize(ctx, "data"); n != 1<<40 {
		t.Fatalf("VolumeSize = %d after SetVolumeSize", n)
	}
	for _, err := range []error{
		rt.SnapshotVolume(ctx, "nope", file),
		rt.RestoreVolume(ctx, "nope", file),
		func() error { _, err := rt.VolumeSize(ctx, "nope"); return err }(),
	} {
		if !errors.Is(err, runtime.ErrVolumeNotFound) {
			t.Fatalf("missing volume: %v", err)
		}
	}
}
