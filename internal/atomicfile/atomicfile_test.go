package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteIfChanged(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "nginx.conf")

	changed, err := WriteIfChanged(p, []byte("a"), 0o600)
	if err != nil || !changed {
		t.Fatalf("first write: changed=%v err=%v, want true nil", changed, err)
	}
	changed, err = WriteIfChanged(p, []byte("a"), 0o600)
	if err != nil || changed {
		t.Fatalf("same bytes: changed=%v err=%v, want false nil", changed, err)
	}
	changed, err = WriteIfChanged(p, []byte("a"), 0o644)
	if err != nil || !changed {
		t.Fatalf("mode change: changed=%v err=%v, want true nil", changed, err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o644 {
		t.Fatalf("mode = %v, want 0644", st.Mode().Perm())
	}
	changed, err = WriteIfChanged(p, []byte("b"), 0o600)
	if err != nil || !changed {
		t.Fatalf("new bytes: changed=%v err=%v", changed, err)
	}
	got, _ := os.ReadFile(p)
	st, _ := os.Stat(p)
	if string(got) != "b" || st.Mode().Perm() != 0o600 {
		t.Fatalf("file = %q %v, want \"b\" 0600", got, st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want 1 (no temp files left)", len(entries))
	}
}

func TestWriteIfChangedFailureLeavesOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "unit.container")
	if _, err := WriteIfChanged(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A read-only directory makes the temp file impossible: the old file must survive intact.
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	if _, err := WriteIfChanged(p, []byte("new"), 0o644); err == nil {
		t.Fatal("write into a read-only directory succeeded")
	}
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Fatalf("file = %q after a failed write, want \"old\"", got)
	}
}

func TestWriteIfChangedMissingDir(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope", "f")
	if _, err := WriteIfChanged(p, []byte("x"), 0o644); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}

func TestRemove(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if removed, err := Remove(p); removed || err != nil {
		t.Fatalf("missing file: removed=%v err=%v", removed, err)
	}
	os.WriteFile(p, []byte("x"), 0o644)
	if removed, err := Remove(p); !removed || err != nil {
		t.Fatalf("removed=%v err=%v", removed, err)
	}
}
