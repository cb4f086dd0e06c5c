//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skerry-dev/skerry/runtime"
)

// TestNetworkManager: create (twice: ErrAlreadyExists), list by label with the options read
// back, a refused removal while a stopped container is attached (ErrNetworkInUse, nothing
// changed), removal once free, and ErrNotFound after.
func TestNetworkManager(t *testing.T) {
	r := connect(t)
	ctx := context.Background()
	name, ctr := uniq("skerry-net"), uniq("skerry-net-user")
	t.Cleanup(func() {
		_ = r.Remove(context.Background(), ctr, runtime.RemoveOptions{Force: true})
		_ = r.RemoveNetwork(context.Background(), name)
	})
	labels := map[string]string{runtime.LabelManaged: "true", runtime.LabelApp: name}
	spec := runtime.NetworkSpec{Name: name, Internal: true, Labels: labels}
	if err := r.CreateNetwork(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := r.CreateNetwork(ctx, spec); !errors.Is(err, runtime.ErrAlreadyExists) {
		t.Fatalf("second create: %v, want ErrAlreadyExists", err)
	}
	if err := r.CreateNetwork(ctx, runtime.NetworkSpec{Name: "host"}); !errors.Is(err, runtime.ErrInvalidSpec) {
		t.Fatalf("reserved name: %v, want ErrInvalidSpec", err)
	}
	got, err := r.ListNetworks(ctx, labels)
	if err != nil {
		t.Fatal(err)
	}
	want := []runtime.NetworkInfo{{Name: name, Internal: true, Labels: labels}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("list by label (-want +got):\n%s", diff)
	}
	all, err := r.ListNetworks(ctx, nil)
	if err != nil || len(all) < 2 { // podman's default network too
		t.Fatalf("list all: %v %v", all, err)
	}

	c := runtime.ContainerSpec{Name: ctr, Image: testImage, Command: []string{"sleep", "600"},
		Network: runtime.Network{Mode: runtime.NetworkNamed, Name: name}, StopTimeout: time.Second}
	if err := r.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveNetwork(ctx, name); !errors.Is(err, runtime.ErrNetworkInUse) {
		t.Fatalf("remove while a (created, never started) container is attached: %v, want ErrNetworkInUse", err)
	}
	if got, _ := r.ListNetworks(ctx, labels); len(got) != 1 {
		t.Fatalf("refused removal changed the network: %v", got)
	}
	if err := r.Remove(ctx, ctr, runtime.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveNetwork(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveNetwork(ctx, name); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("second remove: %v, want ErrNotFound", err)
	}
}
