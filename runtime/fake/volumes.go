package fake

// The fake's volume snapshots (runtime.VolumeSnapshotter): a volume's content is a map of file
// paths to contents; an archive is that map as JSON in a real file.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"

	"github.com/skerry-dev/skerry/runtime"
)

var _ runtime.VolumeSnapshotter = (*Runtime)(nil)

// The volume operations, for call counting and fault injection.
const (
	OpVolumeSize     Op = "volume-size"
	OpSnapshotVolume Op = "snapshot-volume"
	OpRestoreVolume  Op = "restore-volume"
)

// volumeState is what the fake keeps of volumes beyond their existence.
type volumeState struct {
	files map[string]map[string]string // volume -> path -> content
	size  map[string]int64             // volume -> size reported instead of the content's
	// writes are what every start of a container of an image writes into each named volume
	// it mounts.
	writes map[string]map[string]string
}

// WriteVolume writes files (path -> content) into volume, creating it when absent, as a
// container or a user would.
func (r *Runtime) WriteVolume(volume string, files map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writeVolume(volume, files)
}

func (r *Runtime) writeVolume(volume string, files map[string]string) {
	r.volumes[volume] = true
	if r.vols.files == nil {
		r.vols.files = map[string]map[string]string{}
	}
	if r.vols.files[volume] == nil {
		r.vols.files[volume] = map[string]string{}
	}
	maps.Copy(r.vols.files[volume], files)
}

// VolumeFiles returns a copy of volume's files (nil for an empty or missing volume).
func (r *Runtime) VolumeFiles(volume string) map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.vols.files[volume])
}

// SetVolumeSize makes VolumeSize report size for volume, whatever its content.
func (r *Runtime) SetVolumeSize(volume string, size int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.vols.size == nil {
		r.vols.size = map[string]int64{}
	}
	r.vols.size[volume] = size
}

// SetImageWrites makes every start of a container of image write files into each named volume
// the container mounts: a release that migrates its data when it starts.
func (r *Runtime) SetImageWrites(image string, files map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.vols.writes == nil {
		r.vols.writes = map[string]map[string]string{}
	}
	r.vols.writes[image] = maps.Clone(files)
}

// startWrites applies c's image writes (SetImageWrites). The caller holds r.mu.
func (r *Runtime) startWrites(c *container) {
	files := r.vols.writes[c.spec.Image]
	if files == nil {
		return
	}
	for _, m := range c.spec.Mounts {
		if m.Type == runtime.MountVolume && !m.ReadOnly {
			r.writeVolume(m.Source, files)
		}
	}
}

// VolumeSize implements runtime.VolumeSnapshotter: the size set with SetVolumeSize, else the
// length of the volume's contents.
func (r *Runtime) VolumeSize(ctx context.Context, name string) (int64, error) {
	if err := r.enter(ctx, OpVolumeSize); err != nil {
		return 0, err
	}
	defer r.mu.Unlock()
	if !r.volumes[name] {
		return 0, volumeNotFound(name)
	}
	if size, ok := r.vols.size[name]; ok {
		return size, nil
	}
	var n int64
	for _, content := range r.vols.files[name] {
		n += int64(len(content))
	}
	return n, nil
}

// SnapshotVolume implements runtime.VolumeSnapshotter: the volume's files as JSON in file.
func (r *Runtime) SnapshotVolume(ctx context.Context, name, file string) error {
	if err := r.enter(ctx, OpSnapshotVolume); err != nil {
		return err
	}
	defer r.mu.Unlock()
	if !r.volumes[name] {
		return volumeNotFound(name)
	}
	b, err := json.Marshal(r.vols.files[name])
	if err != nil {
		return err
	}
	return os.WriteFile(file, b, 0o600)
}

// RestoreVolume implements runtime.VolumeSnapshotter: the volume's files become file's exactly.
func (r *Runtime) RestoreVolume(ctx context.Context, name, file string) error {
	if err := r.enter(ctx, OpRestoreVolume); err != nil {
		return err
	}
	defer r.mu.Unlock()
	if !r.volumes[name] {
		return volumeNotFound(name)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("fake: restore volume %q: %w", name, err)
	}
	var files map[string]string
	if err := json.Unmarshal(b, &files); err != nil {
		return fmt.Errorf("fake: restore volume %q: %w", name, err)
	}
	delete(r.vols.files, name)
	r.writeVolume(name, files)
	return nil
}

func volumeNotFound(name string) error {
	return fmt.Errorf("fake: volume %q: %w", name, runtime.ErrVolumeNotFound)
}
