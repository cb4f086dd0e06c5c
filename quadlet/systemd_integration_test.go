//go:build integration

package quadlet_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/skerry-dev/skerry/quadlet"
)

// Run inside the integration environment (test/itest/run.sh), as the user whose manager runs
// the companions: systemd itself is the oracle here. Hundreds of units drawn from hostile values
// are rendered; the ones Render accepts are handed to the real Quadlet generator through the
// production path (~/.config/containers/systemd + daemon-reload), and, for each further
// generator found next to the test binary (quadlet-<version>, e.g. quadlet-5.8.2 built from the
// module cache), through its dry-run output installed as plain services. Every unit must load,
// pass `systemd-analyze verify`, and carry, in the ExecStart systemd parsed (read over D-Bus),
// the exact command and environment words of the model.

const systemGenerator = "/usr/libexec/podman/quadlet"

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %q: %v\n%s%s", name, args, err, stdout.String(), stderr.String())
	}
	return stdout.String() + stderr.String()
}

// drawUnits renders units drawn from hostile values and returns the accepted ones by name.
func drawUnits(t *testing.T, prefix string) (map[string]quadlet.Unit, map[string][]byte) {
	units, files, refused := map[string]quadlet.Unit{}, map[string][]byte{}, 0
	rapid.Check(t, func(rt *rapid.T) {
		for i := range 4 {
			u := hostileUnit(rt, i)
			u.Service.Restart = "no"
			name := fmt.Sprintf("%s%d", prefix, len(units)+refused)
			data, err := quadlet.Render(name, u, quadlet.Options{})
			if err != nil {
				refused++
				continue
			}
			units[name], files[name] = u, data
		}
	})
	t.Logf("%d units accepted, %d refused", len(units), refused)
	return units, files
}

// execStart reads the argv of the first ExecStart systemd loaded for unit.
func execStart(t *testing.T, unit string) []string {
	t.Helper()
	path := strings.Fields(run(t, "busctl", "--user", "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
		"org.freedesktop.systemd1.Manager", "LoadUnit", "s", unit))[1]
	out := run(t, "busctl", "--user", "--json=short", "get-property", "org.freedesktop.systemd1", strings.Trim(path, `"`),
		"org.freedesktop.systemd1.Service", "ExecStart")
	var prop struct {
		Data [][]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(out), &prop); err != nil || len(prop.Data) == 0 {
		t.Fatalf("%s: ExecStart %s: %v", unit, out, err)
	}
	var argv []string
	if err := json.Unmarshal(prop.Data[0][1], &argv); err != nil {
		t.Fatal(err)
	}
	return argv
}

// checkLoaded verifies every unit with systemd: loaded, verify clean, ExecStart words exact.
// Systemd keeps "$$" in the argv it shows (it expands variables when it runs the command).
func checkLoaded(t *testing.T, units map[string]quadlet.Unit, serviceOf func(string) string, files []string) {
	t.Helper()
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range units {
			if !yield(serviceOf(n)) {
				return
			}
		}
	})
	out := run(t, "systemctl", append([]string{"--user", "show", "-p", "Id", "-p", "LoadState", "--"}, names...)...)
	if n := strings.Count(out, "LoadState=loaded"); n != len(names) {
		t.Errorf("%d of %d units loaded:\n%s", n, len(names), out)
	}
	verify := exec.Command("systemd-analyze", append([]string{"--user", "verify"}, files...)...)
	if out, err := verify.CombinedOutput(); err != nil || regexp.MustCompile(`(?m)^.*\.service: `).Match(out) {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	t.Logf("%d units loaded; systemd-analyze verify ran over %d files", strings.Count(out, "LoadState=loaded"), len(files))
	dollar := func(s string) string { return strings.ReplaceAll(s, "$", "$$") }
	for name, u := range units {
		argv := execStart(t, serviceOf(name))
		want := []string{u.Container.Image}
		for _, w := range u.Container.Exec {
			want = append(want, dollar(w))
		}
		if len(argv) < len(want) || !slices.Equal(argv[len(argv)-len(want):], want) {
			t.Errorf("%s: systemd's argv %q does not end in %q", name, argv, want)
		}
		if !hasSeq(argv, "--env", dollar("K="+u.Container.Environment["K"])) {
			t.Errorf("%s: systemd's argv %q lacks the environment", name, argv)
		}
	}
}

// resources writes .network and .volume units with hostile labels into dir and returns each
// generated service's label value.
func resources(t *testing.T, dir string) map[string]string {
	labels := map[string]string{}
	rapid.Check(t, func(rt *rapid.T) {
		i := len(labels)
		label := hostile(rt, "label")
		net := quadlet.NetworkUnit{Network: quadlet.Network{Label: map[string]string{"k": label}, Internal: true,
			PodmanArgs: []string{"--log-level=" + rapid.SampledFrom([]string{"info", "warn"}).Draw(rt, "level")}}}
		vol := quadlet.VolumeUnit{Volume: quadlet.Volume{Label: map[string]string{"k": label}}}
		if i%2 == 1 {
			vol.Volume.Device, vol.Volume.Type, vol.Volume.Options = "%h/skerry-it", "bind", "bind"
		}
		nd, err := quadlet.RenderNetwork(fmt.Sprintf("skerry-it-net%d", i), net, quadlet.Options{})
		if err != nil {
			rt.Fatal(err)
		}
		vd, err := quadlet.RenderVolume(fmt.Sprintf("skerry-it-vol%d", i), vol, quadlet.Options{})
		if err != nil {
			rt.Fatal(err)
		}
		for file, data := range map[string][]byte{quadlet.NetworkFileName(fmt.Sprintf("skerry-it-net%d", i)): nd,
			quadlet.VolumeFileName(fmt.Sprintf("skerry-it-vol%d", i)): vd} {
			p := filepath.Join(dir, file)
			if _, err := quadlet.WriteIfChanged(p, data, 0o644); err != nil {
				rt.Fatal(err)
			}
			t.Cleanup(func() { os.Remove(p) })
		}
		labels[quadlet.NetworkServiceName(fmt.Sprintf("skerry-it-net%d", i))] = label
		labels[quadlet.VolumeServiceName(fmt.Sprintf("skerry-it-vol%d", i))] = label
	})
	return labels
}

// checkResources verifies the generated network and volume services with systemd.
func checkResources(t *testing.T, labels map[string]string, genDir string) {
	t.Helper()
	var files []string
	for svc, label := range labels {
		files = append(files, filepath.Join(genDir, svc))
		if argv := execStart(t, svc); !hasSeq(argv, "--label", "k="+strings.ReplaceAll(label, "$", "$$")) {
			t.Errorf("%s: systemd's argv %q lacks the label %q", svc, argv, label)
		}
	}
	out := run(t, "systemctl", append([]string{"--user", "show", "-p", "LoadState", "--"}, slices.Sorted(maps.Keys(labels))...)...)
	t.Logf("%d network and volume services loaded, their argv checked", strings.Count(out, "LoadState=loaded"))
	if n := strings.Count(out, "LoadState=loaded"); n != len(labels) {
		t.Errorf("%d of %d network and volume services loaded", n, len(labels))
	}
	if out, err := exec.Command("systemd-analyze", append([]string{"--user", "verify"}, files...)...).CombinedOutput(); err != nil ||
		regexp.MustCompile(`(?m)^.*\.service: `).Match(out) {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestSystemdLoadsRenderedUnits(t *testing.T) {
	if _, err := os.Stat(systemGenerator); err != nil {
		t.Fatalf("the integration host's Quadlet generator: %v", err)
	}
	home, _ := os.UserHomeDir()
	runtimeDir := os.Getenv("XDG_RUNTIME_DIR")

	t.Run("system generator", func(t *testing.T) {
		dir := filepath.Join(home, ".config", "containers", "systemd")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		units, files := drawUnits(t, "skerry-it-")
		t.Cleanup(func() {
			for name := range files {
				os.Remove(filepath.Join(dir, quadlet.FileName(name)))
			}
			exec.Command("systemctl", "--user", "daemon-reload").Run()
		})
		for name, data := range files {
			if _, err := quadlet.WriteIfChanged(filepath.Join(dir, quadlet.FileName(name)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		labels := resources(t, dir)
		run(t, "systemctl", "--user", "daemon-reload")
		var generated []string
		for name := range units {
			generated = append(generated, filepath.Join(runtimeDir, "systemd", "generator", quadlet.ServiceName(name)))
		}
		checkLoaded(t, units, quadlet.ServiceName, generated)
		checkResources(t, labels, filepath.Join(runtimeDir, "systemd", "generator"))
	})

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	extra, _ := filepath.Glob(filepath.Join(filepath.Dir(self), "quadlet-[0-9]*"))
	if len(extra) == 0 {
		t.Logf("no further generator next to %s (quadlet-<version>): only the system's was checked", self)
	}
	for _, gen := range extra {
		v := strings.TrimPrefix(filepath.Base(gen), "quadlet-")
		t.Run(v, func(t *testing.T) {
			src := t.TempDir()
			units, files := drawUnits(t, "skerry-it-")
			for name, data := range files {
				if err := os.WriteFile(filepath.Join(src, quadlet.FileName(name)), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(gen, "-dryrun", "-user")
			cmd.Env = append(os.Environ(), "QUADLET_UNIT_DIRS="+src)
			out, _ := cmd.Output()
			parts := serviceHeaderRE.Split(string(out), -1)
			dir := filepath.Join(home, ".config", "systemd", "user")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			serviceOf := func(name string) string { return name + "-" + strings.ReplaceAll(v, ".", "") + ".service" }
			var paths []string
			t.Cleanup(func() {
				for _, p := range paths {
					os.Remove(p)
				}
				exec.Command("systemctl", "--user", "daemon-reload").Run()
			})
			for i, m := range serviceHeaderRE.FindAllStringSubmatch(string(out), -1) {
				p := filepath.Join(dir, serviceOf(m[1]))
				if err := os.WriteFile(p, []byte(parts[i+1]), 0o644); err != nil {
					t.Fatal(err)
				}
				paths = append(paths, p)
			}
			if len(paths) != len(units) {
				t.Fatalf("%s generated %d of %d units", v, len(paths), len(units))
			}
			run(t, "systemctl", "--user", "daemon-reload")
			checkLoaded(t, units, serviceOf, paths)
		})
	}
}
