package fake_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

// TestNetworks: the fake's networks behave as podman's: a container cannot be created on a
// missing network, a network with any container attached cannot be removed, labels filter.
func TestNetworks(t *testing.T) {
	rt := fake.New()
	rt.AddImage("img")
	ctx := context.Background()
	on := runtime.ContainerSpec{Name: "c", Image: "img", Network: runtime.Network{Mode: runtime.NetworkNamed, Name: "n"}}
	if err := rt.Create(ctx, on); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("create on a missing network: %v, want ErrNotFound", err)
	}
	labels := map[string]string{runtime.LabelManaged: "true"}
	if err := rt.CreateNetwork(ctx, runtime.NetworkSpec{Name: "n", Internal: true, Labels: labels}); err != nil {
		t.Fatal(err)
	}
	if err := rt.CreateNetwork(ctx, runtime.NetworkSpec{Name: "n"}); !errors.Is(err, runtime.ErrAlreadyExists) {
		t.Fatalf("second create: %v", err)
	}
	if err := rt.CreateNetwork(ctx, runtime.NetworkSpec{Name: "podman"}); !errors.Is(err, runtime.ErrInvalidSpec) {
		t.Fatalf("reserved name: %v", err)
	}
	if err := rt.AddNetwork(runtime.NetworkSpec{Name: "users"}); err != nil {
		t.Fatal(err)
	}
	got, err := rt.ListNetworks(ctx, labels)
	if diff := cmp.Diff([]runtime.NetworkInfo{{Name: "n", Internal: true, Labels: labels}}, got); err != nil || diff != "" {
		t.Fatalf("list by label (-want +got, err %v):\n%s", err, diff)
	}
	if err := rt.Create(ctx, on); err != nil {
		t.Fatal(err)
	}
	if err := rt.RemoveNetwork(ctx, "n"); !errors.Is(err, runtime.ErrNetworkInUse) {
		t.Fatalf("remove in use: %v", err)
	}
	if err := rt.Remove(ctx, "c", runtime.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := rt.RemoveNetwork(ctx, "n"); err != nil {
		t.Fatal(err)
	}
	if err := rt.RemoveNetwork(ctx, "n"); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("second remove: %v", err)
	}
	if rt.Calls(fake.OpRemoveNetwork) != 3 {
		t.Fatalf("remove calls %d", rt.Calls(fake.OpRemoveNetwork))
	}
}
