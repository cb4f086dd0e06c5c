package quadlet_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/systemd/parser"

	"github.com/skerry-dev/skerry/quadlet"
)

// The real Quadlet generator, built from the podman module skerry pins (v5.4.2, the version of
// the integration host), is the second oracle: it must accept every rendered unit and turn it
// into the podman command line the model means.

var generator struct {
	once sync.Once
	path string
	err  error
}

func quadletGenerator(t *testing.T) string {
	t.Helper()
	generator.once.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			generator.err = err
			return
		}
		dir, err := os.MkdirTemp("", "skerry-quadlet")
		if err != nil {
			generator.err = err
			return
		}
		generator.path = filepath.Join(dir, "quadlet")
		cmd := exec.Command(goBin, "build", "-tags", "containers_image_openpgp exclude_graphdriver_btrfs remote",
			"-o", generator.path, "github.com/containers/podman/v5/cmd/quadlet")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			generator.err = &buildError{err, string(out)}
		}
	})
	if generator.err != nil {
		t.Fatalf("building the Quadlet generator: %v", generator.err)
	}
	return generator.path
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// generate runs `quadlet -dryrun -user` over units and returns the generated services by name,
// and the generator's stderr.
func generate(t *testing.T, units map[string][]byte) (map[string]*parser.UnitFile, string) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range units {
		if err := os.WriteFile(filepath.Join(dir, quadlet.FileName(name)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(quadletGenerator(t), "-dryrun", "-user")
	cmd.Env = append(os.Environ(), "QUADLET_UNIT_DIRS="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run() // exits non-zero when a unit is refused; the output tells which
	services := map[string]*parser.UnitFile{}
	parts := regexp.MustCompile(`(?m)^---(.+)\.service---$`).Split(stdout.String(), -1)
	names := regexp.MustCompile(`(?m)^---(.+)\.service---$`).FindAllStringSubmatch(stdout.String(), -1)
	for i, m := range names {
		services[m[1]] = parse(t, []byte(parts[i+1]))
	}
	return services, stderr.String()
}

// argv returns the podman command line systemd runs for a generated service: ExecStart split
// as systemd splits it, with its "%%" and "$$" unescaped.
func argv(t *testing.T, svc *parser.UnitFile) []string {
	t.Helper()
	words, ok := svc.LookupLastArgs("Service", "ExecStart")
	if !ok {
		t.Fatal("no ExecStart")
	}
	return unescapeAll(words)
}

// hasSeq reports whether want appears in args as consecutive words.
func hasSeq(args []string, want ...string) bool {
	for i := 0; i+len(want) <= len(args); i++ {
		if slices.Equal(args[i:i+len(want)], want) {
			return true
		}
	}
	return false
}

func TestGeneratorAcceptsCompanion(t *testing.T) {
	data, err := quadlet.Render("bitcoind-ui", companionUnit(), quadlet.Options{Target: quadlet.Podman542})
	if err != nil {
		t.Fatal(err)
	}
	services, stderr := generate(t, map[string][]byte{"bitcoind-ui": data})
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
	for key, want := range map[string]string{"Restart": "always", "RestartSec": "10", "TimeoutStartSec": "300"} {
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
	services, stderr := generate(t, map[string][]byte{"hostile": data})
	if services["hostile"] == nil {
		t.Fatalf("no service:\n%s", stderr)
	}
	args := argv(t, services["hostile"])
	if !hasSeq(args, append([]string{"localhost/busybox:latest"}, words...)...) {
		t.Fatalf("command words changed on the way:\n%q\nwant the tail %q", args, words)
	}
	if !hasSeq(args, "--env", "PASS="+env["PASS"]) {
		t.Fatalf("environment value changed on the way:\n%q", args)
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
	services, stderr := generate(t, map[string][]byte{"ungated": ungated, "gated": gated})
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
