package orchestrator

// Volume snapshots: an upgrade of an app that marks volumes (App.SnapshotVolumes) copies them
// once the old release is stopped, and a rollback puts them back before the old release starts
// again, so that the old release never runs on data the failed one migrated.
//
// The snapshot lives on the host, in Options.SnapshotDir/<app>/: one archive per volume
// (<volume>.tar) and, written last, manifest.json naming the app, the container the snapshot
// was taken from (the PREV record's ID) and the two releases' spec hashes. Every file is
// written under a temporary name, synced and renamed, so a daemon killed at any point leaves
// either a whole snapshot (with its manifest) or none that counts. A restore happens only
// while the PREV record the manifest names exists (see restorable): a committed upgrade has
// removed it, so a snapshot left behind by a daemon killed right after a commit is never
// restored over the new release's data. It is removed at the commit, after a restore, and at
// the app's next upgrade.

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/skerry-dev/skerry/runtime"
)

// ErrSnapshotSpace: the snapshot directory's file system has not room enough for the volumes an
// upgrade snapshots (their size plus SnapshotMargin). The upgrade is not started: the old
// release keeps running.
var ErrSnapshotSpace = errors.New("not enough disk space for the volume snapshots")

// SnapshotMargin is the room an upgrade keeps free on the snapshot directory's file system on
// top of the snapshots' size: a fixed part, plus a tenth of the size (archive overhead, and
// the volumes growing between the check and the copy).
const SnapshotMargin = 64 << 20

// snapshotManifest is what a snapshot is of. Its presence in the app's snapshot directory marks
// the snapshot whole.
type snapshotManifest struct {
	App string
	// PrevID is the ID of the container the volumes were copied from: the PREV record, which
	// keeps its ID through its renames.
	PrevID string
	// FromHash and ToHash are the spec hashes of the release upgraded from and to.
	FromHash, ToHash string
	// Volumes are the volumes copied, each in <volume>.tar.
	Volumes []string
}

// validateSnapshotVolumes adds a problem for every entry of a.SnapshotVolumes that is not a
// named volume the app's container mounts, or is listed twice.
func validateSnapshotVolumes(p *runtime.Problems, a App) {
	seen := map[string]bool{}
	for i, v := range a.SnapshotVolumes {
		f := fmt.Sprintf("SnapshotVolumes[%d]", i)
		mounted := slices.ContainsFunc(a.Container.Mounts, func(m runtime.Mount) bool {
			return m.Type == runtime.MountVolume && m.Source == v
		})
		switch {
		case seen[v]:
			p.Add(f, "%q is listed twice", v)
		case !mounted:
			p.Add(f, "%q is not a named volume the app's container mounts", v)
		}
		seen[v] = true
	}
}

// spaceNeeded is the free space an upgrade needs to snapshot volumes of these sizes: their sum,
// a tenth more, and SnapshotMargin.
func spaceNeeded(sizes []int64) int64 {
	var sum int64
	for _, s := range sizes {
		sum += max(s, 0)
	}
	return sum + sum/10 + SnapshotMargin
}

// checkSpace returns an error wrapping ErrSnapshotSpace when free bytes are fewer than
// spaceNeeded(sizes).
func checkSpace(free uint64, sizes []int64) error {
	need := spaceNeeded(sizes)
	if free < uint64(need) {
		return fmt.Errorf("%w: %d MiB free, %d MiB needed", ErrSnapshotSpace, free>>20, need>>20)
	}
	return nil
}

// restorable reports whether a snapshot of manifest m is to be restored before prev, the
// app's PREV record, starts again: it was taken from that very container. A snapshot of
// another container (an earlier upgrade's, whose commit a killed daemon did not finish
// cleaning up) never is.
func restorable(m snapshotManifest, app string, prev runtime.Observation) bool {
	return m.App == app && prev.ID != "" && m.PrevID == prev.ID && m.FromHash == prev.SpecHash() && len(m.Volumes) > 0
}

// markedVolumes returns the volumes an upgrade of a snapshots: its marked volumes, sorted,
// without duplicates.
func markedVolumes(a App) []string {
	vs := slices.Clone(a.SnapshotVolumes)
	slices.SortFunc(vs, cmp.Compare)
	return slices.Compact(vs)
}
