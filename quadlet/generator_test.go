//go:build !integration

package quadlet_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/systemd/parser"

	"github.com/skerry-dev/skerry/quadlet"
)

// The real Quadlet generators are the second oracle: the one of the podman module skerry pins
// (v5.4.2, the integration host's) and v5.8.2's, built from the module cache (or fetched through
// the Go proxy). Both must accept every rendered unit and turn it into the podman command line
// the model means.

// generatorVersions are the podman releases whose generators the tests run.
var generatorVersions = []string{"5.4.2", "5.8.2"}

var generators struct {
	once  sync.Once
	dir   string
	paths map[string]string
	err   error
}

// TestMain removes the generators built for the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if generators.dir != "" {
		os.RemoveAll(generators.dir)
	}
	os.Exit(code)
}

// quadletGenerators builds the generators once and returns their paths by version.
func quadletGenerators(t testing.TB) map[string]string {
	t.Helper()
	generators.once.Do(func() {
		generators.paths, generators.err = buildGenerators()
	})
	if generators.err != nil {
		t.Fatalf("building the Quadlet generators: %v", generators.err)
	}
	return generators.paths
}

func buildGenerators() (map[string]string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "skerry-quadlet")
	if err != nil {
		return nil, err
	}
	generators.dir = dir
	paths := map[string]string{}
	for _, v := range generatorVersions {
		// A module of its own per version, so that skerry's go.mod (pinned to 5.4.2) is not touched.
		mod := filepath.Join(dir, "mod-"+v)
		if err := os.MkdirAll(mod, 0o755); err != nil {
			return nil, err
		}
		gomod := "module skerry.test/quadlet\n\ngo 1.24\n\nrequire github.com/containers/podman/v5 v" + v + "\n"
		if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte(gomod), 0o644); err != nil {
			return nil, err
		}
		paths[v] = filepath.Join(dir, "quadlet-"+v)
		cmd := exec.Command(goBin, "build", "-tags", "containers_image_openpgp exclude_graphdriver_btrfs remote",
			"-o", paths[v], "github.com/containers/podman/v5/cmd/quadlet")
		cmd.Dir = mod
		// -mod=mod records the dependencies' sums from the module cache, which verified them when
		// it downloaded them.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GONOSUMDB=*", "GONOSUMCHECK=1", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, &buildError{err, string(out)}
		}
	}
	return paths, nil
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// generate runs generator version v (`quadlet -dryrun -user`) over units and returns the
// generated services by name, and the generator's stderr.
func generate(t testing.TB, v string, units map[string][]byte) (map[string]*parser.UnitFile, string) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range units {
		if err := os.WriteFile(filepath.Join(dir, quadlet.FileName(name)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return generateDir(t, v, dir)
}

// generateDir runs generator version v over the units in dir.
func generateDir(t testing.TB, v, dir string) (map[string]*parser.UnitFile, string) {
	t.Helper()
	cmd := exec.Command(quadletGenerators(t)[v], "-dryrun", "-user")
	cmd.Env = append(os.Environ(), "QUADLET_UNIT_DIRS="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run() // exits non-zero when a unit is refused; the output tells which
	services := map[string]*parser.UnitFile{}
	parts := serviceHeaderRE.Split(stdout.String(), -1)
	for i, m := range serviceHeaderRE.FindAllStringSubmatch(stdout.String(), -1) {
		services[m[1]] = parse(t, []byte(parts[i+1]))
	}
	return services, stderr.String()
}

func TestGeneratorAcceptsCompanion(t *testing.T) {
	data, err := quadlet.Render("bitcoind-ui", companionUnit(), quadlet.Options{Target: quadlet.Podman542})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range generatorVersions {
		t.Run(v, func(t *testing.T) { checkCompanionService(t, v, data) })
	}
}

func checkCompanionService(t *testing.T, v string, data []byte) {
	services, stderr := generate(t, v, map[string][]byte{"bitcoind-ui": data})
	svc := services["bitcoind-ui"]
	if svc == nil {
		t.Fatalf("the generator produced no service:\n%s", stderr)
	}
	args := argv(t, svc)
	for _, want := range [][]string{
		{"--name", "bitcoind-ui"},
		{"--sdnotify=healthy"},
		{"--security-opt=no-new-privileges"},
		{"--cap-drop", "all"},
		{"--cap-add", "net_bind_service"},
		{"--read-only"},
		{"--network", "bridge"},
		{"-v", "/srv/skerry/bitcoind/nginx.conf:/etc/nginx.conf:ro"},
		{"--publish", "127.0.0.1:3002:3002/tcp"},
		{"--env", "RPC_PASSWORD=p@ss w0rd"},
		{"--label", "io.skerry.companion=bitcoind-ui"},
		{"--health-cmd", `["wget","-q","-O-","http://127.0.0.1:3002/"]`},
		{"--health-interval", "10s"},
		{"--health-retries", "3"},
		{"--pids-limit", "256"},
		{"--stop-timeout", "2"},
		{"localhost/btc-ui:1.2", "httpd", "-f", "-p", "3002", "-h", "/www"},
	} {
		if !hasSeq(args, want...) {
			t.Errorf("podman argv lacks %q:\n%q", want, args)
		}
	}
	for key, want := range map[string]string{"Restart": "always", "RestartSec": "10", "TimeoutStartSec": "300", "TimeoutStopSec": "20"} {
		if got, _ := svc.Lookup("Service", key); got != want {
			t.Errorf("[Service] %s=%q, want %q", key, got, want)
		}
	}
	if got, _ := svc.Lookup("Unit", "StartLimitBurst"); got != "5" {
		t.Errorf("[Unit] StartLimitBurst=%q", got)
	}
}

func TestGeneratorKeepsHostileArgumentsIntact(t *testing.T) {
	words := []string{"sh", "-c", `echo "$HOME" '%h' \ 100% $$`, "a b", `back\slash`, "#;=[]"}
	env := map[string]string{"PASS": `p"a ss$1%n\`}
	u := quadlet.Unit{Container: quadlet.Container{Image: "localhost/busybox:latest", Exec: words, Environment: env}}
	data, err := quadlet.Render("hostile", u, quadlet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range generatorVersions {
		services, stderr := generate(t, v, map[string][]byte{"hostile": data})
		if services["hostile"] == nil {
			t.Fatalf("%s: no service:\n%s", v, stderr)
		}
		args := argv(t, services["hostile"])
		if !hasSeq(args, append([]string{"localhost/busybox:latest"}, words...)...) {
			t.Fatalf("%s: command words changed on the way:\n%q\nwant the tail %q", v, args, words)
		}
		if !hasSeq(args, "--env", "PASS="+env["PASS"]) {
			t.Fatalf("%s: environment value changed on the way:\n%q", v, args)
		}
	}
}

// TestGeneratorVersionGating: a 5.5 key rendered without gating makes the 5.4.2 generator drop
// the unit, which is why the renderer gates; rendered for 5.4 with downgrade it is accepted.
func TestGeneratorVersionGating(t *testing.T) {
	u := quadlet.Unit{Container: quadlet.Container{Image: "localhost/busybox:latest", Memory: "512m", StopSignal: "SIGINT"},
		Service: quadlet.Service{Restart: "always", RestartSec: time.Second}}
	ungated, err := quadlet.Render("ungated", u, quadlet.Options{Target: quadlet.Latest})
	if err != nil {
		t.Fatal(err)
	}
	gated, err := quadlet.Render("gated", u, quadlet.Options{Target: quadlet.Podman542, Downgrade: true})
	if err != nil {
		t.Fatal(err)
	}
	services, stderr := generate(t, "5.4.2", map[string][]byte{"ungated": ungated, "gated": gated})
	if services["ungated"] != nil || !strings.Contains(stderr, "Memory") {
		t.Fatalf("the 5.4.2 generator accepted Memory=; stderr:\n%s", stderr)
	}
	if services["gated"] == nil {
		t.Fatalf("gated unit refused:\n%s", stderr)
	}
	args := argv(t, services["gated"])
	if !hasSeq(args, "--memory=512m") || !hasSeq(args, "--stop-signal", "SIGINT") {
		t.Fatalf("argv %q lacks the downgraded memory flag or the stop signal", args)
	}
}
