//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/containers/podman/v5/pkg/specgen"
	spec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skerry-dev/skerry/runtime"
)

var _ runtime.VolumeSnapshotter = (*Runtime)(nil)

// LabelVolumeHelper marks the short-lived container that snapshots or restores a volume; its
// value is the volume's name.
const LabelVolumeHelper = "io.skerry.volume-helper"

// The helper's scripts, run by the host's /bin/sh with the volume at /mnt and the archive's
// directory at its own path. They need tar (GNU's options) and find on the host.
const (
	snapshotScript = `tar --numeric-owner -cf "$1" -C /mnt .`
	restoreScript  = `find /mnt -mindepth 1 -delete && tar --numeric-owner -xpf "$1" -C /mnt`
)

// VolumeSize implements runtime.VolumeSnapshotter with podman's disk usage report.
func (r *Runtime) VolumeSize(ctx context.Context, name string) (int64, error) {
	if err := r.volumeExists(ctx, name); err != nil {
		return 0, err
	}
	var df struct {
		Volumes []struct {
			VolumeName string
			Size       int64
		}
	}
	if err := r.call(ctx, http.MethodGet, "/system/df", nil, nil, &df); err != nil {
		return 0, fmt.Errorf("podman: size of volume %s: %w", name, mapErr(err, runtime.ErrVolumeNotFound))
	}
	for _, v := range df.Volumes {
		if v.VolumeName == name {
			return v.Size, nil
		}
	}
	return 0, fmt.Errorf("podman: size of volume %s: %w", name, runtime.ErrVolumeNotFound)
}

// SnapshotVolume implements runtime.VolumeSnapshotter: a helper container writes a tar archive
// of the volume (numeric owners) to file.
//
// Podman's REST API has no volume export (podman volume export is a local command), and its
// container archive call changes every file's owner to the container's user. So the helper is
// a container of the host's own tools (see helperRoot), without network, with the volume at
// /mnt and file's directory at its own path: it runs the host's tar inside the engine's user
// namespace, where every subordinate UID the volume's files may belong to is mapped, and is
// removed afterwards. The engine must run on this host (file is a path on it).
func (r *Runtime) SnapshotVolume(ctx context.Context, name, file string) error {
	return r.runVolumeHelper(ctx, name, file, snapshotScript)
}

// RestoreVolume implements runtime.VolumeSnapshotter: the same helper as SnapshotVolume's
// deletes everything in the volume, then extracts the archive with its owners and modes.
// Podman's volume import (local only) extracts over the content without deleting anything, and
// a volume that containers use cannot be removed without removing them.
func (r *Runtime) RestoreVolume(ctx context.Context, name, file string) error {
	return r.runVolumeHelper(ctx, name, file, restoreScript)
}

// volumeExists returns nil when the volume exists, an error wrapping runtime.ErrVolumeNotFound
// when it does not.
func (r *Runtime) volumeExists(ctx context.Context, name string) error {
	ok, err := r.exists(ctx, "/volumes/%s/exists", name)
	if err != nil {
		return fmt.Errorf("podman: look for volume %s: %w", name, mapErr(err, runtime.ErrVolumeNotFound))
	}
	if !ok {
		return fmt.Errorf("podman: volume %s: %w", name, runtime.ErrVolumeNotFound)
	}
	return nil
}

// helperRoot prepares root, the root directory of the volume helper: the host's program
// directories (/usr, and /bin, /sbin, /lib, /lib64 where they are directories of their own)
// bind-mounted read-only, the ones that are links to /usr mirrored as links. A container whose
// root is the host's / itself does not start (crun cannot set up /run/.containerenv there, and a
// read-only / cannot take podman's tmpfs), and no image with tar is sure to be present.
func helperRoot(root string) (string, []spec.Mount, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", nil, err
	}
	var binds []spec.Mount
	for _, d := range []string{"usr", "bin", "sbin", "lib", "lib64", "lib32"} {
		host := "/" + d
		fi, err := os.Lstat(host)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", nil, err
		}
		in := filepath.Join(root, d)
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(host)
			if err != nil {
				return "", nil, err
			}
			if cur, err := os.Readlink(in); err == nil && cur == target {
				continue
			}
			os.Remove(in)
			if err := os.Symlink(target, in); err != nil {
				return "", nil, err
			}
			continue
		}
		if err := os.MkdirAll(in, 0o755); err != nil {
			return "", nil, err
		}
		binds = append(binds, spec.Mount{Type: "bind", Source: host, Destination: "/" + d, Options: []string{"rbind", "ro"}})
	}
	return root, binds, nil
}

// removeHelper removes the helper container name, killing it at once if it runs (a helper a
// killed daemon left may still be copying; the operation that removes it starts over). A
// missing helper is not an error.
func (r *Runtime) removeHelper(ctx context.Context, name string) error {
	err := r.removeContainer(ctx, name, url.Values{"force": {"true"}, "timeout": {"0"}})
	if err = mapErr(err, runtime.ErrNotFound); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return err
	}
	return nil
}

// helperName is the name of the helper container of a volume: upper-case, never an app's.
func helperName(volume string) string { return "SKERRY.VOLUME." + volume }

// runVolumeHelper runs script (with file as $1) in a helper container mounting the volume and
// file's directory, waits for it and removes it. A helper a killed daemon left is removed first.
func (r *Runtime) runVolumeHelper(ctx context.Context, volume, file, script string) error {
	if !filepath.IsAbs(file) {
		return fmt.Errorf("podman: volume %s: archive path %q is not absolute", volume, file)
	}
	if err := r.volumeExists(ctx, volume); err != nil {
		return err
	}
	name := helperName(volume)
	if err := r.removeHelper(ctx, name); err != nil {
		return fmt.Errorf("podman: volume %s: remove a helper left behind: %w", volume, err)
	}
	dir := filepath.Dir(file)
	root, binds, err := helperRoot(filepath.Join(dir, ".root"))
	if err != nil {
		return fmt.Errorf("podman: volume %s: the helper's root: %w", volume, err)
	}
	sg := specgen.NewSpecGeneratorWithRootfs(root)
	sg.Name = name
	sg.NetNS = specgen.Namespace{NSMode: specgen.NoNetwork}
	sg.SelinuxOpts = []string{"disable"}
	sg.Volumes = []*specgen.NamedVolume{{Name: volume, Dest: "/mnt"}}
	sg.Mounts = append(binds, spec.Mount{Type: "bind", Source: dir, Destination: dir, Options: []string{"rbind"}})
	sg.Entrypoint = []string{"/bin/sh", "-c", script, "sh", file}
	sg.Labels = map[string]string{LabelVolumeHelper: volume}
	if err := r.createWithSpec(ctx, sg); err != nil {
		return fmt.Errorf("podman: create the helper of volume %s: %w", volume, mapErr(err, runtime.ErrNotFound))
	}
	defer r.removeHelper(context.WithoutCancel(ctx), name)
	if err := r.Start(ctx, name); err != nil {
		return fmt.Errorf("podman: volume %s: %w", volume, err)
	}
	code, err := r.wait(ctx, name, "")
	if err != nil {
		return fmt.Errorf("podman: wait for the helper of volume %s: %w", volume, mapErr(err, runtime.ErrNotFound))
	}
	if code != 0 {
		lines, _ := r.Logs(ctx, name, 5)
		return fmt.Errorf("podman: the helper of volume %s exited with %d: %s", volume, code, strings.Join(lines, "; "))
	}
	return nil
}
