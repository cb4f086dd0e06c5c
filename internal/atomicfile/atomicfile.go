// Package atomicfile writes files so that a crash at any point leaves either the old content or
// the new, never a partial file, and writes nothing when the content is already there.
package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteIfChanged makes path hold data with permission mode, and reports whether it changed
// anything. When the file already holds data with that mode it does nothing. Otherwise it writes
// a temporary file in the same directory, fsyncs it, renames it over path and fsyncs the
// directory. The directory must exist. Errors name the path, never the data.
func WriteIfChanged(path string, data []byte, mode fs.FileMode) (bool, error) {
	mode &= fs.ModePerm
	if old, err := os.ReadFile(path); err == nil {
		if st, err := os.Stat(path); err == nil && bytes.Equal(old, data) && st.Mode().Perm() == mode {
			return false, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// Chmod before writing, so that a secret never sits in a file more open than mode.
	if err := tmp.Chmod(mode); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return false, fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return false, fmt.Errorf("rename into %s: %w", path, err)
	}
	committed = true
	if err := syncDir(dir); err != nil {
		return true, fmt.Errorf("sync directory of %s: %w", path, err)
	}
	return true, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Remove removes path and fsyncs its directory; a missing file is not an error. It reports
// whether a file was removed.
func Remove(path string) (bool, error) {
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	return true, syncDir(filepath.Dir(path))
}
