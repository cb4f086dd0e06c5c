package quadlet

import (
	"io/fs"
	"os"
	"path/filepath"

	"github.com/skerry-dev/skerry/internal/atomicfile"
)

// UserDir returns the directory the systemd user manager's Quadlet generator reads:
// $XDG_CONFIG_HOME/containers/systemd, by default ~/.config/containers/systemd.
func UserDir() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "containers", "systemd"), nil
}

// FileName returns the unit file name of name: name.container.
func FileName(name string) string { return name + ".container" }

// ServiceName returns the service Quadlet generates for name: name.service.
func ServiceName(name string) string { return name + ".service" }

// WriteIfChanged writes a rendered unit to path atomically (temporary file in the same
// directory, fsync, rename, fsync of the directory) and reports whether anything changed. A
// crash at any point leaves the old file or the new one, never a partial one.
func WriteIfChanged(path string, data []byte, mode fs.FileMode) (bool, error) {
	return atomicfile.WriteIfChanged(path, data, mode)
}

// Remove deletes a unit file durably; a missing file is not an error. It reports whether a file
// was removed.
func Remove(path string) (bool, error) { return atomicfile.Remove(path) }
