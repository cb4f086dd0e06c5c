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

// TestNetworksAndVolumesGenerate: a companion on its app's network, mounting a volume unit and
// a bind volume unit, generates with both generators, ordered after and requiring them.
func TestNetworksAndVolumesGenerate(t *testing.T) {
	uid := 1000
	net, err := quadlet.RenderNetwork("btc", quadlet.NetworkUnit{Network: quadlet.Network{NetworkName: "btc",
		Subnet: []string{"10.89.7.0/24"}, Gateway: []string{"10.89.7.1"}, Internal: true}}, quadlet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := quadlet.RenderVolume("data", quadlet.VolumeUnit{Volume: quadlet.Volume{VolumeName: "btc-data", User: &uid}}, quadlet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := quadlet.RenderVolume("blocks", quadlet.VolumeUnit{Volume: quadlet.Volume{Device: "%h/blocks", Type: "bind", Options: "bind"}}, quadlet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ui, err := quadlet.Render("ui", quadlet.Unit{Container: quadlet.Container{Image: "localhost/busybox:latest",
		Network: []string{"btc.network"}, Volume: []string{"data.volume:/data", "blocks.volume:/blocks:ro"}}}, quadlet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for file, b := range map[string][]byte{quadlet.NetworkFileName("btc"): net, quadlet.VolumeFileName("data"): data,
		quadlet.VolumeFileName("blocks"): blocks, quadlet.FileName("ui"): ui} {
		if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range generatorVersions {
		services, stderr := generateDir(t, v, dir)
		for _, name := range []string{"btc-network", "data-volume", "blocks-volume", "ui"} {
			if services[name] == nil {
				t.Fatalf("%s: %s not generated:\n%s", v, name, stderr)
			}
		}
		args := argv(t, services["ui"])
		if !hasSeq(args, "--network", "btc") || !hasSeq(args, "-v", "btc-data:/data") || !hasSeq(args, "-v", "systemd-blocks:/blocks:ro") {
			t.Errorf("%s: ui argv %q", v, args)
		}
		if req := services["ui"].LookupAll("Unit", "Requires"); !slices.Contains(req, "btc-network.service") || !slices.Contains(req, "data-volume.service") {
			t.Errorf("%s: ui Requires=%q", v, req)
		}
		// Quadlet orders a bind volume after its device's mount from podman 5.6 on.
		if got := services["blocks-volume"].LookupAll("Unit", "RequiresMountsFor"); v == "5.8.2" && !slices.Contains(got, "%h/blocks") {
			t.Errorf("%s: blocks RequiresMountsFor=%q", v, got)
		}
		if args := argv(t, services["data-volume"]); !hasSeq(args, "--opt", "o=uid=1000") {
			t.Errorf("%s: data volume argv %q", v, args)
		}
	}
}
