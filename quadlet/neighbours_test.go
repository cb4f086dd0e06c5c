//go:build !integration

package quadlet_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/skerry-dev/skerry/quadlet"
)

// One bad unit must never break its neighbours: podman 5.4.2's generator panics on a Mount of a
// volume without a source and then generates no unit of the directory. Render refuses that
// unit, so it is never written.
func TestGenerator542DropsTheDirectoryOnAnonymousMount(t *testing.T) {
	good, err := quadlet.Render("good", quadlet.Unit{Container: quadlet.Container{Image: "localhost/busybox:latest"}}, quadlet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bad := []byte("[Container]\nImage=localhost/busybox:latest\nMount=type=volume,destination=/data\n")
	services, stderr := generate(t, "5.4.2", map[string][]byte{"good": good, "bad": bad})
	if services["good"] != nil {
		t.Fatalf("5.4.2 generated its neighbour after all; the hazard this test documents is gone:\n%s", stderr)
	}
	_, err = quadlet.Render("bad", quadlet.Unit{Container: quadlet.Container{Image: "localhost/busybox:latest",
		Mount: []string{"type=volume,destination=/data"}}}, quadlet.Options{})
	if err == nil {
		t.Fatal("Render accepted the anonymous volume mount")
	}
}

// hostileUnit draws a unit from hostile values: some are refused, the others must generate.
func hostileUnit(t *rapid.T, i int) quadlet.Unit {
	label := fmt.Sprint("u", i)
	words := func(key string) []string {
		n := rapid.IntRange(0, 3).Draw(t, label+key+"#")
		out := make([]string, n)
		for j := range out {
			if rapid.IntRange(0, 3).Draw(t, label+key+"?") == 0 {
				out[j] = specialWord(t, label+key)
			} else {
				out[j] = hostile(t, label+key)
			}
		}
		return out
	}
	c := quadlet.Container{
		Image:       "localhost/busybox:latest",
		Exec:        words("Exec"),
		PodmanArgs:  rapid.SampledFrom([][]string{nil, {"--log-level=info"}, {"--env", "X=" + specialWord(t, label+"X")}}).Draw(t, label+"PodmanArgs"),
		Environment: map[string]string{"K": specialWord(t, label+"Env")},
		Volume:      rapid.SliceOfN(rapid.Custom(func(t *rapid.T) string { return validVolume(t, "volume") }), 0, 2).Draw(t, label+"Volume"),
		Mount: rapid.SliceOfN(rapid.OneOf(rapid.Custom(func(t *rapid.T) string { return validMount(t, "mount") }),
			rapid.SampledFrom([]string{"type=volume,destination=/data", "destination=/x", `type=bind,source=/a b,destination=/b`, ""})), 0, 2).Draw(t, label+"Mount"),
		User:  rapid.SampledFrom([]string{"", "1000", "app"}).Draw(t, label+"User"),
		Group: rapid.SampledFrom([]string{"", "1000"}).Draw(t, label+"Group"),
	}
	return quadlet.Unit{Container: c, Service: quadlet.Service{Restart: "always"}}
}

// TestDirectoryOfRenderedUnitsAllGenerate renders hundreds of units drawn from hostile values,
// writes every one Render accepts into one directory (the refused ones are never written), and
// runs both generators over it once: every written unit must generate, with its command and
// environment words intact.
func TestDirectoryOfRenderedUnitsAllGenerate(t *testing.T) {
	dir := t.TempDir()
	written, refused := map[string]quadlet.Unit{}, 0
	rapid.Check(t, func(rt *rapid.T) {
		for i := range 8 {
			u := hostileUnit(rt, i)
			name := fmt.Sprintf("unit%d", len(written)+refused)
			data, err := quadlet.Render(name, u, quadlet.Options{})
			if err != nil {
				refused++
				continue
			}
			if err := os.WriteFile(filepath.Join(dir, quadlet.FileName(name)), data, 0o644); err != nil {
				rt.Fatal(err)
			}
			written[name] = u
		}
	})
	t.Logf("%d units written, %d refused", len(written), refused)
	if len(written) < 200 || refused < 50 {
		t.Fatalf("the draw is lopsided: %d written, %d refused", len(written), refused)
	}
	for _, v := range generatorVersions {
		services, stderr := generateDir(t, v, dir)
		for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
			if !strings.Contains(line, "Loading source unit file") {
				t.Errorf("%s: generator: %s", v, line)
			}
		}
		for name, u := range written {
			svc := services[name]
			if svc == nil {
				t.Errorf("%s: the generator dropped %s", v, name)
				continue
			}
			args := argv(t, svc)
			want := append([]string{u.Container.Image}, u.Container.Exec...)
			if len(args) < len(want) || !slices.Equal(args[len(args)-len(want):], want) {
				t.Errorf("%s: %s: argv %q does not end in %q", v, name, args, want)
			}
			if !hasSeq(args, "--env", "K="+u.Container.Environment["K"]) {
				t.Errorf("%s: %s: argv %q lacks the environment", v, name, args)
			}
		}
	}
}
