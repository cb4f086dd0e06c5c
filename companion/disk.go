package companion

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/skerry-dev/skerry/quadlet"
)

// The ownership marker opens every unit file the manager writes: a comment line naming the app
// ("# skerry: companion-of=bitcoind"). Quadlet copies leading comments into the service it
// generates, where systemd ignores them: the marker changes neither the podman command nor the
// unit (tested against the real generator, and with systemd-analyze verify on the integration
// host). A file without it was not written by skerry and is never touched, whatever its name.
const markerPrefix = "# skerry: companion-of="

// tombSuffix marks a unit file whose removal has begun: the manager renames name.container to
// name.container.skerry-removed before it stops the unit, and deletes it once the unit is
// stopped and systemd reloaded. Quadlet ignores the name (an extension it does not know), so
// the generator drops the unit at the next reload, and the tombstone, marker included, tells a
// later pass that the removal must be finished, even after a crash and a restart.
const tombSuffix = ".skerry-removed"

// restartSuffix names the sidecar file that records, durably, that a running companion must be
// restarted onto a rewritten unit file: written (marker inside) before the new file, deleted
// once the restart succeeded. A crash between the write, the reload and the restart leaves it,
// and the next pass restarts the unit, which a running service on a stale unit would not show
// otherwise.
const restartSuffix = ".skerry-restart"

// marker returns the marker line of app's companions.
func marker(app string) string { return markerPrefix + app + "\n" }

// appNameRE is the set of app names runtime.ValidateName accepts.
var appNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// legacyHeader opened the unit files skerry wrote before the marker existed; such a file is
// recognized by it and its container label (Label="io.skerry.companion-of=<app>"), so that
// upgrading skerry neither orphans nor refuses the companions a node already runs. The next
// pass over a registered one rewrites it with the marker.
const legacyHeader = "# Rendered by skerry; manual changes are overwritten."

// ownerOf returns the app named by data's marker line, if data opens with one (or is a unit
// file skerry wrote before the marker existed).
func ownerOf(data []byte) (string, bool) {
	line, rest, found := bytes.Cut(data, []byte("\n"))
	if string(line) == legacyHeader {
		return legacyOwner(string(rest))
	}
	app, ok := strings.CutPrefix(string(line), markerPrefix)
	if !found || !ok || !appNameRE.MatchString(app) {
		return "", false
	}
	return app, true
}

// legacyOwner returns the app of the companion label of a legacy unit file's body.
func legacyOwner(body string) (string, bool) {
	for line := range strings.Lines(body) {
		v, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), `Label="`+LabelCompanionOf+"=")
		if app, ok2 := strings.CutSuffix(v, `"`); ok && ok2 && appNameRE.MatchString(app) {
			return app, true
		}
	}
	return "", false
}

// onDisk is what the unit directory holds of one companion name.
type onDisk struct {
	// data is name.container's content; nil when there is none.
	data []byte
	// owner is the app named by data's marker; "" when data has no marker (not skerry's file).
	owner string
	// tombOwner is the app named by the tombstone's marker; "" when there is no tombstone of
	// skerry's.
	tombOwner string
	// restartOwner is the app named by the restart sidecar's marker; "" when there is none.
	restartOwner string
	err          error
}

func (d onDisk) marked() bool { return d.owner != "" }

// scan reads the unit directory: every name.container (marked or not, since a registered
// companion needs to know whether its name is taken) and every marked tombstone. It deletes
// the temporary files a crash in the middle of an atomic write left of skerry's unit files.
func (m *Manager) scan() (map[string]onDisk, error) {
	entries, err := os.ReadDir(m.opts.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]onDisk{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("companion: read unit directory: %w", err)
	}
	out := map[string]onDisk{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		file := e.Name()
		if isStrayTemp(file) {
			if err := os.Remove(filepath.Join(m.opts.Dir, file)); err == nil {
				m.log.Info("removed a temporary unit file left by a crash", "file", file)
			}
			continue
		}
		name, kind := splitUnitFile(file)
		if kind == "" || quadlet.ValidateName(name) != nil {
			continue
		}
		d := out[name]
		data, err := os.ReadFile(filepath.Join(m.opts.Dir, file))
		switch {
		case kind == ".container" && err != nil:
			d.err = err
		case kind == ".container":
			d.data = data
			d.owner, _ = ownerOf(data)
		case err != nil:
			continue
		case kind == tombSuffix:
			d.tombOwner, _ = ownerOf(data)
		case kind == restartSuffix:
			d.restartOwner, _ = ownerOf(data)
		}
		out[name] = d
	}
	return out, nil
}

// splitUnitFile splits a file name into a companion name and its kind: ".container",
// tombSuffix or restartSuffix; kind is "" for any other file.
func splitUnitFile(file string) (name, kind string) {
	for _, k := range []string{tombSuffix, restartSuffix, ""} {
		if name, ok := strings.CutSuffix(file, ".container"+k); ok {
			if k == "" {
				return name, ".container"
			}
			return name, k
		}
	}
	return "", ""
}

// strayTempRE matches internal/atomicfile's temporary files of a unit file.
var strayTempRE = regexp.MustCompile(`^\.[a-z0-9][a-z0-9_.-]*\.container\.tmp-[0-9]+$`)

func isStrayTemp(file string) bool { return strayTempRE.MatchString(file) }

func (m *Manager) path(name string) string {
	return filepath.Join(m.opts.Dir, quadlet.FileName(name))
}

func (m *Manager) tombPath(name string) string { return m.path(name) + tombSuffix }

func (m *Manager) restartPath(name string) string { return m.path(name) + restartSuffix }

// bury renames name's unit file to its tombstone, durably: Quadlet no longer sees it, and the
// intent to remove the unit survives a crash.
func (m *Manager) bury(name string) error {
	if err := os.Rename(m.path(name), m.tombPath(name)); err != nil {
		return err
	}
	d, err := os.Open(m.opts.Dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
