//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"context"
	"errors"
	"testing"

	"github.com/skerry-dev/skerry/runtime"
)

// Two containers on one host port: the second is created, and its start fails with
// ErrPortInUse, not ErrAlreadyExists (podman says "address already in use").
func TestHostPortInUse(t *testing.T) {
	r := connect(t)
	ctx := context.Background()
	first, second := uniq("port-a"), uniq("port-b")
	cleanup(t, r, first)
	cleanup(t, r, second)
	for _, name := range []string{first, second} {
		if err := r.Create(ctx, webSpec(name, 18090)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Start(ctx, first); err != nil {
		t.Fatal(err)
	}
	err := r.Start(ctx, second)
	if !errors.Is(err, runtime.ErrPortInUse) || errors.Is(err, runtime.ErrAlreadyExists) {
		t.Fatalf("start on a host port in use: %v, want ErrPortInUse and not ErrAlreadyExists", err)
	}
	t.Logf("podman says: %v", err)
}
