package companion_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skerry-dev/skerry/companion"
)

// quadletGenerator builds the real Quadlet generator of the podman module skerry pins (the
// version of the integration host).
func quadletGenerator(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the Quadlet generator")
	}
	out := filepath.Join(t.TempDir(), "quadlet")
	cmd := exec.Command("go", "build", "-tags", "containers_image_openpgp exclude_graphdriver_btrfs remote",
		"-o", out, "github.com/containers/podman/v5/cmd/quadlet")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the Quadlet generator: %v\n%s", err, b)
	}
	return out
}

// The ownership marker, the tombstone and the restart sidecar must be harmless to the real
// generator: the unit generated as before with the marker a comment, no unit and no complaint
// for the other two files.
func TestRealGeneratorAcceptsMarkerTombstoneAndSidecar(t *testing.T) {
	gen := quadletGenerator(t)
	e := setup(t, companion.Options{})
	installed(t, e, "bitcoind", uiSpec("bitcoind-ui"), uiSpec("bitcoind-rpc"))
	// A removal buried bitcoind-rpc; an upgrade left a restart sidecar of bitcoind-ui.
	os.Rename(filepath.Join(e.dir, "bitcoind-rpc.container"), filepath.Join(e.dir, "bitcoind-rpc.container.skerry-removed"))
	os.WriteFile(filepath.Join(e.dir, "bitcoind-ui.container.skerry-restart"), []byte("# skerry: companion-of=bitcoind\n"), 0o644)

	cmd := exec.Command(gen, "-dryrun", "-user", "-v")
	cmd.Env = append(os.Environ(), "QUADLET_UNIT_DIRS="+e.dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("generator: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "---bitcoind-ui.service---") || strings.Contains(out, "bitcoind-rpc") {
		t.Fatalf("generated:\n%s", out)
	}
	// Quadlet copies the leading comments into the service: the marker stays a comment there,
	// which systemd ignores, and is not an option of the podman command.
	svc, _, _ := strings.Cut(strings.SplitN(out, "---bitcoind-ui.service---\n", 2)[1], "\n---")
	if !strings.HasPrefix(svc, "# skerry: companion-of=bitcoind\n") || strings.Count(svc, "skerry: companion-of") != 1 {
		t.Fatalf("the marker is not a leading comment of the generated service:\n%s", svc)
	}
	if !strings.Contains(out, "--label io.skerry.companion-of=bitcoind") {
		t.Fatalf("the container label is missing:\n%s", out)
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, "skerry-") || strings.Contains(strings.ToLower(line), "error") || strings.Contains(strings.ToLower(line), "warn") {
			t.Errorf("generator complains: %s", line)
		}
	}
	// And a pass over this directory converges on it.
	for _, r := range e.m.Reconcile(context.Background()) {
		if r.Err != nil {
			t.Error(r.Err)
		}
	}
}
