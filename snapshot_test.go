package skerry_test

import (
	"errors"
	"testing"

	"github.com/skerry-dev/skerry"
	"github.com/skerry-dev/skerry/runtime"
	rfake "github.com/skerry-dev/skerry/runtime/fake"
)

// An app that marks a volume for snapshots needs Options.SnapshotDir: New refuses it without,
// and accepts it with one.
func TestSnapshotDirReachesTheOrchestrator(t *testing.T) {
	app := demoApps()[0]
	app.DependsOn = nil
	app.Companions = nil
	app.Container.Mounts = []runtime.Mount{{Type: runtime.MountVolume, Source: app.Name + "-data", Target: "/data"}}
	app.SnapshotVolumes = []string{app.Name + "-data"}
	if _, err := skerry.New(rfake.New(), nil, skerry.Options{Logger: quiet}, app); !errors.Is(err, runtime.ErrInvalidSpec) {
		t.Fatalf("without SnapshotDir: %v, want ErrInvalidSpec", err)
	}
	if _, err := skerry.New(rfake.New(), nil, skerry.Options{Logger: quiet, SnapshotDir: t.TempDir()}, app); err != nil {
		t.Fatalf("with SnapshotDir: %v", err)
	}
}
