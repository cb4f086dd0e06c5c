package orchestrator

// The snapshot steps of an upgrade (see snapshot.go): the checks before it starts, the copy
// once the old release is stopped, the restore before it starts again, the removal.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/skerry-dev/skerry/internal/atomicfile"
	"github.com/skerry-dev/skerry/runtime"
)

// manifestName is the file that marks an app's snapshot whole.
const manifestName = "manifest.json"

// diskFree returns the bytes an unprivileged user may still write on dir's file system; a seam
// for tests.
var diskFree = func(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// checkSnapshots adds a problem when a marks volumes that o cannot snapshot: no
// Options.SnapshotDir, or a runtime that is no runtime.VolumeSnapshotter or no runtime.Renamer
// (without a rollback a snapshot would never be restored).
func (o *Orchestrator) checkSnapshots(p *runtime.Problems, a App) {
	if len(a.SnapshotVolumes) == 0 {
		return
	}
	if o.opts.SnapshotDir == "" || !filepath.IsAbs(o.opts.SnapshotDir) {
		p.Add("SnapshotVolumes", "the app marks volumes to snapshot, and Options.SnapshotDir is not an absolute directory (%q)", o.opts.SnapshotDir)
	}
	if _, ok := o.rt.(runtime.VolumeSnapshotter); !ok {
		p.Add("SnapshotVolumes", "the runtime cannot snapshot volumes (it is no runtime.VolumeSnapshotter)")
	}
	if _, ok := o.rt.(runtime.Renamer); !ok {
		p.Add("SnapshotVolumes", "the runtime cannot roll an upgrade back (it is no runtime.Renamer), so a snapshot would never be restored")
	}
}

// snapshotDir is the directory of the app's snapshot.
func (o *Orchestrator) snapshotDir(s *appState) string {
	return filepath.Join(o.opts.SnapshotDir, s.spec.Name)
}

// prepareSnapshot runs at the start of an upgrade, before anything changes: it removes a
// snapshot an earlier upgrade left, and checks the disk space for the snapshots of the app's
// marked volumes. It returns the volumes to snapshot: the marked ones that exist (a volume the
// old release does not have holds nothing of it). An error wraps ErrSnapshotSpace when there is
// not room enough. The caller holds s.lock.
func (o *Orchestrator) prepareSnapshot(ctx context.Context, s *appState) ([]string, error) {
	if o.opts.SnapshotDir == "" {
		return nil, nil
	}
	if err := o.dropSnapshot(s); err != nil { // it must never be restored onto this release
		return nil, fmt.Errorf("%s: remove an earlier volume snapshot: %w", s.spec.Name, err)
	}
	marked := markedVolumes(s.app)
	vs, ok := o.rt.(runtime.VolumeSnapshotter)
	if len(marked) == 0 || !ok {
		return nil, nil
	}
	var vols []string
	var sizes []int64
	for _, v := range marked {
		n, err := vs.VolumeSize(ctx, v)
		if errors.Is(err, runtime.ErrVolumeNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: size of volume %s: %w", s.spec.Name, v, err)
		}
		vols, sizes = append(vols, v), append(sizes, n)
	}
	if len(vols) == 0 {
		return nil, nil
	}
	if err := os.MkdirAll(o.opts.SnapshotDir, 0o700); err != nil {
		return nil, fmt.Errorf("%s: snapshot directory: %w", s.spec.Name, err)
	}
	free, err := diskFree(o.opts.SnapshotDir)
	if err != nil {
		return nil, fmt.Errorf("%s: free space in %s: %w", s.spec.Name, o.opts.SnapshotDir, err)
	}
	if err := checkSpace(free, sizes); err != nil {
		return nil, fmt.Errorf("%s: snapshot of volumes %v in %s: %w", s.spec.Name, vols, o.opts.SnapshotDir, err)
	}
	return vols, nil
}

// snapshotVolumes copies vols once prev, the old release's PREV record, is stopped, and writes the
// manifest last. When that fails the upgrade does not go on: the snapshot is removed, prev is
// restored and the error says so. The caller holds s.lock.
func (o *Orchestrator) snapshotVolumes(ctx context.Context, s *appState, ren runtime.Renamer, prev runtime.Observation, vols []string, rep *AppReport) error {
	if len(vols) == 0 {
		return nil
	}
	err := o.takeSnapshot(ctx, s, prev, vols)
	if err == nil {
		o.log.Info("volumes snapshotted before the upgrade", "app", s.spec.Name, "volumes", vols)
		return nil
	}
	o.dropSnapshot(s)
	rep.Reason = fmt.Sprintf("upgrade to %s not started: the snapshot of its volumes failed; %s keeps running", s.spec.Image, prev.Image)
	err = fmt.Errorf("%s: upgrade to %s not started: snapshot of volumes %v: %w", s.spec.Name, s.spec.Image, vols, err)
	if rerr := o.restorePrev(ctx, s, ren); rerr != nil {
		return fmt.Errorf("%w; and the previous release did not come back: %w", err, rerr)
	}
	return err
}

// takeSnapshot writes the archives of vols, then the manifest naming prev, each under a
// temporary name, synced, then renamed (the manifest with atomicfile).
func (o *Orchestrator) takeSnapshot(ctx context.Context, s *appState, prev runtime.Observation, vols []string) error {
	vs := o.rt.(runtime.VolumeSnapshotter) // prepareSnapshot returns no volume otherwise
	dir := o.snapshotDir(s)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, v := range vols {
		file := filepath.Join(dir, v+".tar")
		if err := vs.SnapshotVolume(ctx, v, file+".tmp"); err != nil {
			return err
		}
		if err := syncRename(file+".tmp", file); err != nil {
			return err
		}
	}
	m := snapshotManifest{App: s.spec.Name, PrevID: prev.ID, FromHash: prev.SpecHash(),
		ToHash: s.spec.Labels[runtime.LabelSpecHash], Volumes: vols}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = atomicfile.WriteIfChanged(filepath.Join(dir, manifestName), b, 0o600)
	return err
}

// syncRename makes tmp, an archive the engine wrote, durable, renames it to file and makes the
// rename durable.
func syncRename(tmp, file string) error {
	f, err := os.Open(tmp)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, file); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(file))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// restoreSnapshot puts the app's volumes back from its snapshot before prev, its PREV record,
// starts again, when the snapshot was taken from prev (see restorable); a snapshot of another
// container is removed. An error leaves prev stopped and the snapshot in place: the next
// operation tries again, and the old release never starts on data the new one changed. The
// caller holds s.lock.
func (o *Orchestrator) restoreSnapshot(ctx context.Context, s *appState, prev runtime.Observation) error {
	if o.opts.SnapshotDir == "" {
		return nil
	}
	name, dir := s.spec.Name, o.snapshotDir(s)
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var m snapshotManifest
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		return fmt.Errorf("%s: read the manifest of the volume snapshot in %s: %w", name, dir, err)
	}
	if !restorable(m, name, prev) {
		o.log.Info("removing a volume snapshot of another container", "app", name, "of", m.PrevID, "prev", prev.ID)
		o.dropSnapshot(s)
		return nil
	}
	vs, ok := o.rt.(runtime.VolumeSnapshotter)
	if !ok {
		return fmt.Errorf("%s: volumes %v must be restored from their snapshot before %s starts, and the runtime cannot restore volumes", name, m.Volumes, prev.Name)
	}
	for _, v := range m.Volumes {
		if err := vs.RestoreVolume(ctx, v, filepath.Join(dir, v+".tar")); err != nil {
			return fmt.Errorf("%s: restore volume %s from its snapshot before %s starts: %w", name, v, prev.Name, err)
		}
	}
	o.log.Info("volumes restored from their snapshot", "app", name, "volumes", m.Volumes)
	o.dropSnapshot(s)
	return nil
}

// dropSnapshot removes the app's snapshot, when there is one. A failure is logged and
// returned: a snapshot left behind is never restored over another container (see restorable),
// and the next upgrade does not start until it is gone.
func (o *Orchestrator) dropSnapshot(s *appState) error {
	if o.opts.SnapshotDir == "" {
		return nil
	}
	err := os.RemoveAll(o.snapshotDir(s))
	if err != nil {
		o.log.Warn("could not remove a volume snapshot", "app", s.spec.Name, "err", err)
	}
	return err
}
