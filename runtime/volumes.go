package runtime

import (
	"context"
	"errors"
)

// ErrVolumeNotFound: no volume of that name.
var ErrVolumeNotFound = errors.New("volume not found")

// VolumeSnapshotter is implemented by runtimes that can copy a named volume's whole content to
// a file on the engine's host and put it back exactly. The orchestrator uses it to snapshot the
// volumes an app marks (App.SnapshotVolumes) before an upgrade and to restore them when the
// upgrade is rolled back, so that the old release never runs on data the new one migrated.
//
// The caller makes sure no running container writes to the volume meanwhile. Files are plain
// paths on the engine's host, in a directory the caller owns; the caller makes them durable
// (fsync, rename).
type VolumeSnapshotter interface {
	// VolumeSize returns the bytes the volume's content takes. ErrVolumeNotFound when there is
	// no such volume.
	VolumeSize(ctx context.Context, name string) (int64, error)
	// SnapshotVolume writes an archive of the volume's content to file (created or truncated):
	// every file, directory and link with its owner, mode and times, whatever user owns it.
	SnapshotVolume(ctx context.Context, name, file string) error
	// RestoreVolume makes the volume's content exactly what SnapshotVolume wrote to file:
	// what the archive holds is put back (owners, modes and times included) and everything
	// else in the volume is deleted. Restoring twice has the effect of restoring once.
	RestoreVolume(ctx context.Context, name, file string) error
}
