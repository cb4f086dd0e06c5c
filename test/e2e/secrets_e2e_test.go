//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/skerry-dev/skerry/hooks"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/quadlet"
	"github.com/skerry-dev/skerry/runtime"
)

// syncBuffer is a log sink the test reads while the node writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newSecretNode is newNode with the podman secret store wired and every log line, at debug
// level, captured in logs.
func newSecretNode(t *testing.T, logs *syncBuffer) *node {
	t.Helper()
	return newNodeWith(t, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), true)
}

func password(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "pw-" + hex.EncodeToString(b)
}

// sees returns what container name reads of the password: its main process's RPC_PASSWORD,
// /run/secrets/rpc, and the rendered file at conf.
func sees(t *testing.T, name, conf string) string {
	t.Helper()
	script := `tr '\0' '\n' </proc/1/environ | grep '^RPC_PASSWORD='; echo "secret=$(cat /run/secrets/rpc)"; cat ` + conf
	return podmanCLI(t, "exec", name, "sh", "-c", script)
}

// TestSecretRotationReachesAppAndCompanionAndLeaksNowhere is issue 11's case: an app and its UI
// companion consume one password, as a podman secret (env and file) and as a rendered config
// file (a directory bind mount for the app, a single-file bind mount for the UI). A rotation
// brings both onto the new value within one pass; the value then appears in no unit file, no
// generated service, no podman inspect, no journal line, no log line and no report.
func TestSecretRotationReachesAppAndCompanionAndLeaksNowhere(t *testing.T) {
	logs := &syncBuffer{}
	n := newSecretNode(t, logs)
	ctx := context.Background()
	name := uniq("sec")
	secret := name + "-rpc"
	var mu sync.Mutex
	current := password(t)
	old := current
	value := func() string { mu.Lock(); defer mu.Unlock(); return current }

	confDir, uiDir := t.TempDir(), t.TempDir()
	for _, d := range []string{confDir, uiDir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	render := func(path, text string, consumers ...string) hooks.Hook {
		return hooks.TemplateFile{Path: path, Template: template.Must(template.New(filepath.Base(path)).Parse(text)),
			Data: func(context.Context) (any, error) { return value(), nil }, Consumers: consumers}
	}
	a := app(name)
	a.Secrets = []orchestrator.Secret{{Name: secret, Value: func(context.Context) ([]byte, error) { return []byte(value()), nil }}}
	a.Container.Secrets = []runtime.SecretRef{{Name: secret, Target: "rpc"}, {Name: secret, Kind: runtime.SecretEnv, Target: "RPC_PASSWORD"}}
	a.Container.Mounts = append(a.Container.Mounts, runtime.Mount{Type: runtime.MountBind, Source: confDir, Target: "/etc/node", ReadOnly: true})
	a.Hooks = []hooks.Hook{
		render(filepath.Join(confDir, "node.conf"), "rpcpassword={{.}}\n", name, name+"-ui"),
		render(filepath.Join(uiDir, "ui.conf"), "proxy_password {{.}};\n", name+"-ui"),
	}
	u := ui(name)
	u.Secrets = a.Container.Secrets
	u.Mounts = []runtime.Mount{
		{Type: runtime.MountBind, Source: confDir, Target: "/etc/node", ReadOnly: true},
		{Type: runtime.MountBind, Source: filepath.Join(uiDir, "ui.conf"), Target: "/etc/ui.conf", ReadOnly: true},
	}
	t.Cleanup(func() { n.rt.RemoveSecret(context.Background(), secret) })
	unitDir, err := quadlet.UserDir()
	if err != nil {
		t.Fatal(err)
	}
	// A fresh node has no unit directory yet (the companion manager does not create it).
	if err := os.MkdirAll(unitDir, 0o755); err != nil {
		t.Fatal(err)
	}
	n.install(t, a, u)

	check := func(want, gone string) {
		t.Helper()
		for _, c := range []struct {
			container, conf string
			reads           int // env, secret file, config files
		}{{name, "/etc/node/node.conf", 3}, {name + "-ui", "/etc/node/node.conf /etc/ui.conf", 4}} {
			got := sees(t, c.container, c.conf)
			if strings.Count(got, want) != c.reads || strings.Contains(got, gone) {
				t.Fatalf("%s reads:\n%s\nwant %s in env, secret file and every config file, and never %s", c.container, got, want, gone)
			}
		}
	}
	check(old, "nothing-else")

	mu.Lock()
	current = password(t)
	mu.Unlock()
	start := time.Now()
	rep := n.o.ReconcileAll(ctx)
	took := time.Since(start)
	if !rep.Converged() {
		t.Fatalf("rotation pass: %v", rep.Apps)
	}
	t.Logf("rotation pass: %v in %v", rep.Apps, took)
	check(value(), old)

	// A second pass with nothing new leaves both alone.
	appID, uiID := n.obs(t, name).ID, n.obs(t, name+"-ui").ID
	if rep := n.o.ReconcileAll(ctx); !rep.Converged() || n.obs(t, name).ID != appID || n.obs(t, name+"-ui").ID != uiID {
		t.Fatalf("the pass after the rotation acted: %v", rep.Apps)
	}

	// The scan: neither value anywhere it must not be.
	var hay strings.Builder
	add := func(what, s string) { fmt.Fprintf(&hay, "== %s\n%s\n", what, s) }
	files, _ := filepath.Glob(filepath.Join(unitDir, "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		add(f, string(b))
	}
	unitFiles := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".container") {
			unitFiles++
			unit := quadlet.ServiceName(strings.TrimSuffix(filepath.Base(f), ".container"))
			out, _ := exec.Command("systemctl", "--user", "cat", unit).CombinedOutput()
			add("systemctl --user cat "+unit, string(out))
		}
	}
	ids := strings.Fields(podmanCLI(t, "ps", "-aq"))
	add("podman inspect", podmanCLI(t, append([]string{"inspect"}, ids...)...))
	add("podman secret inspect", podmanCLI(t, "secret", "inspect", secret))
	add("podman events", podmanCLI(t, "events", "--stream=false", "--since", "10m"))
	journal, _ := exec.Command("journalctl", "--user", "--no-pager", "-o", "cat", "--since", "-10min").CombinedOutput()
	add("journalctl --user", string(journal))
	add("logs", logs.String())
	add("reports", fmt.Sprintf("%+v %+v", rep, rep.Apps))
	for _, v := range []string{old, value()} {
		if i := strings.Index(hay.String(), v); i >= 0 {
			s := hay.String()
			t.Errorf("a password leaked: ...%s...", strings.ReplaceAll(s[max(0, i-300):i], v, "<PASSWORD>"))
		}
	}
	if unitFiles == 0 || !strings.Contains(hay.String(), "--secret "+secret) || len(journal) == 0 || !strings.Contains(logs.String(), "companion") {
		t.Fatalf("the scan saw too little: %d unit files, generated service with --secret: %v, %d journal bytes",
			unitFiles, strings.Contains(hay.String(), "--secret "+secret), len(journal))
	}
	t.Logf("scanned %d bytes: %d unit files, %d containers, %d journal bytes, %d log bytes; 0 hits",
		hay.Len(), unitFiles, len(ids), len(journal), len(logs.String()))
}
