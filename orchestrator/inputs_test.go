package orchestrator_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"text/template"

	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/hooks"
	"github.com/skerry-dev/skerry/orchestrator"
	qfake "github.com/skerry-dev/skerry/quadlet/fake"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

const uiImage = "localhost/ui:1"

// secretNode is a node whose apps and companions consume secrets and rendered files, on the
// fakes. Apps: btc (secret rpc as env; btc.conf rendered from rpc, read by btc and btc-ui),
// lnd (secret macaroon as a file), plain (nothing). Companion btc-ui of btc: rpc as a file,
// ui-key as env, and btc.conf.
type secretNode struct {
	rt      *fake.Runtime
	units   *qfake.Manager
	comps   *companion.Manager
	store   *fake.Secrets
	o       *orchestrator.Orchestrator
	conf    string // the rendered files' directory
	unitDir string
	log     *bytes.Buffer

	mu     sync.Mutex
	values map[string]string
}

func newSecretNode(t *testing.T) *secretNode {
	t.Helper()
	n := &secretNode{rt: fake.New(), store: fake.NewSecrets(), conf: t.TempDir(), log: &bytes.Buffer{},
		values: map[string]string{"rpc": "rpc-pass-0", "macaroon": "mac-0", "ui-key": "ui-0"}}
	n.rt.AddImage(image, uiImage)
	unitDir := t.TempDir()
	n.unitDir = unitDir
	n.units = qfake.New(unitDir)
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: n.log}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var err error
	if n.comps, err = companion.New(n.units, n.rt, companion.Options{Dir: unitDir, Logger: logger}); err != nil {
		t.Fatal(err)
	}
	n.o = orchestrator.New(n.rt, orchestrator.Options{Logger: logger, Companions: n.comps, Secrets: n.store})
	return n
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (n *secretNode) set(name, value string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.values[name] = value
}

func (n *secretNode) secret(name string) orchestrator.Secret {
	return orchestrator.Secret{Name: name, Value: func(context.Context) ([]byte, error) {
		n.mu.Lock()
		defer n.mu.Unlock()
		return []byte(n.values[name]), nil
	}}
}

func (n *secretNode) apps() []orchestrator.App {
	app := func(name string) orchestrator.App {
		return orchestrator.App{Name: name, Container: runtime.ContainerSpec{Image: image, Command: []string{"httpd", "-f"}},
			Health: health.Check{Exec: []string{"true"}}}
	}
	btc := app("btc")
	btc.Container.Secrets = []runtime.SecretRef{{Name: "rpc", Kind: runtime.SecretEnv, Target: "RPC_PASSWORD"}}
	btc.Container.Mounts = []runtime.Mount{{Type: runtime.MountBind, Source: n.conf, Target: "/etc/btc", ReadOnly: true}}
	btc.Secrets = []orchestrator.Secret{n.secret("rpc"), n.secret("ui-key")}
	btc.Hooks = []hooks.Hook{hooks.TemplateFile{
		Path:      filepath.Join(n.conf, "btc.conf"),
		Template:  template.Must(template.New("btc.conf").Parse("rpcpassword={{.}}\n")),
		Data:      func(context.Context) (any, error) { n.mu.Lock(); defer n.mu.Unlock(); return n.values["rpc"], nil },
		Consumers: []string{"btc", "btc-ui"},
	}}
	lnd := app("lnd")
	lnd.Container.Secrets = []runtime.SecretRef{{Name: "macaroon"}}
	lnd.Secrets = []orchestrator.Secret{n.secret("macaroon")}
	return []orchestrator.App{btc, lnd, app("plain")}
}

func (n *secretNode) ui() companion.Spec {
	return companion.Spec{Name: "btc-ui", Image: uiImage,
		Secrets: []runtime.SecretRef{{Name: "rpc"}, {Name: "ui-key", Kind: runtime.SecretEnv, Target: "UI_KEY"}},
		Mounts:  []runtime.Mount{{Type: runtime.MountBind, Source: n.conf, Target: "/etc/nginx/conf.d", ReadOnly: true}}}
}

// install registers the companion and installs every app.
func (n *secretNode) install(t *testing.T) {
	t.Helper()
	if err := n.comps.Register("btc", n.ui()); err != nil {
		t.Fatal(err)
	}
	for _, a := range n.apps() {
		if _, err := n.o.Install(context.Background(), a); err != nil {
			t.Fatalf("install %s: %v", a.Name, err)
		}
	}
}

// generation identifies what each consumer runs: the container ID of each app, the unit file
// content (and restart count) each companion runs.
func (n *secretNode) generation(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range []string{"btc", "lnd", "plain"} {
		_, obs, ok := n.rt.Container(name)
		if !ok || obs.State != runtime.StateRunning {
			t.Fatalf("%s is not running: %v", name, obs.State)
		}
		out[name] = obs.ID
	}
	content, ok := n.units.Running("btc-ui.service")
	if !ok {
		t.Fatal("btc-ui is not running")
	}
	out["btc-ui"] = content
	return out
}

// moved returns the consumers whose generation differs between a and b.
func moved(a, b map[string]string) []string {
	var out []string
	for k := range b {
		if a[k] != b[k] {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func TestRotationReachesExactlyItsConsumers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newSecretNode(t)
		n.install(t)
		ctx := context.Background()
		for _, tc := range []struct {
			secret string
			want   []string
		}{
			{"rpc", []string{"btc", "btc-ui"}}, // env of btc, file of btc-ui, and btc.conf for both
			{"macaroon", []string{"lnd"}},
			{"ui-key", []string{"btc-ui"}},
		} {
			before := n.generation(t)
			n.set(tc.secret, tc.secret+"-rotated")
			rep := n.o.ReconcileAll(ctx)
			if !rep.Converged() {
				t.Fatalf("rotate %s: %v", tc.secret, rep.Apps)
			}
			after := n.generation(t)
			if got := moved(before, after); !slices.Equal(got, tc.want) {
				t.Fatalf("rotate %s: moved %v, want %v", tc.secret, got, tc.want)
			}
			if got := n.o.ReconcileAll(ctx); !slices.Equal(moved(after, n.generation(t)), nil) || !got.Converged() {
				t.Fatalf("the pass after rotating %s moved something", tc.secret)
			}
		}
	})
}

func TestReportNamesChangedInputsAndConsumers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newSecretNode(t)
		n.install(t)
		n.set("rpc", "new")
		rep := n.o.ReconcileAll(context.Background())
		var btc orchestrator.AppReport
		for _, a := range rep.Apps {
			if a.App == "btc" {
				btc = a
			}
		}
		want := []orchestrator.InputChange{
			{Input: "file:" + filepath.Join(n.conf, "btc.conf"), Consumers: []string{"btc", "btc-ui"}},
			{Input: "secret:rpc", Consumers: []string{"btc", "btc-ui"}},
		}
		if fmt.Sprint(btc.Inputs) != fmt.Sprint(want) || btc.Action != orchestrator.ActionRecreate {
			t.Fatalf("report: %v %v, want recreate and %v", btc.Action, btc.Inputs, want)
		}
		if s := btc.String(); !strings.Contains(s, "secret:rpc changed for btc, btc-ui") {
			t.Fatalf("report line %q does not say what changed for whom", s)
		}
	})
}

func TestFailedRecreateAndRestartAreRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newSecretNode(t)
		n.install(t)
		ctx := context.Background()
		before := n.generation(t)
		n.rt.FailNth(fake.OpCreate, 1, errors.New("disk full"))
		n.units.FailNext("restart", errors.New("bus hiccup"))
		n.set("rpc", "rotated")
		if rep := n.o.ReconcileAll(ctx); rep.Converged() {
			t.Fatal("a pass whose recreate failed converged")
		}
		// The secret and the hook are unchanged from now on: only the digests remember.
		for i := 0; i < 3; i++ {
			n.o.ReconcileAll(ctx)
			n.comps.Reconcile(ctx)
		}
		if got := moved(before, n.generation(t)); !slices.Equal(got, []string{"btc", "btc-ui"}) {
			t.Fatalf("after the retries moved %v, want btc and btc-ui", got)
		}
	})
}

func TestFileConsumersOnlyFollowTheFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newSecretNode(t)
		apps := n.apps()
		tf := apps[0].Hooks[0].(hooks.TemplateFile)
		tf.Consumers = []string{"btc-ui"} // btc.conf now feeds the UI only
		apps[0].Hooks = []hooks.Hook{tf}
		apps[0].Container.Secrets = nil
		apps[0].Secrets = []orchestrator.Secret{n.secret("rpc"), n.secret("ui-key")}
		if err := n.comps.Register("btc", n.ui()); err != nil {
			t.Fatal(err)
		}
		for _, a := range apps {
			if _, err := n.o.Install(context.Background(), a); err != nil {
				t.Fatal(err)
			}
		}
		before := n.generation(t)
		n.set("rpc", "rotated")
		n.o.ReconcileAll(context.Background())
		if got := moved(before, n.generation(t)); !slices.Equal(got, []string{"btc-ui"}) {
			t.Fatalf("moved %v, want btc-ui only", got)
		}
	})
}

func TestValuesLeakNowhere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newSecretNode(t)
		n.install(t)
		n.set("rpc", "leak-canary-rotated")
		n.set("ui-key", "leak-canary-ui")
		reps := []orchestrator.Report{n.o.ReconcileAll(context.Background())}
		n.rt.FailNth(fake.OpCreate, 1, errors.New("boom"))
		n.set("rpc", "leak-canary-again")
		reps = append(reps, n.o.ReconcileAll(context.Background()))
		var hay strings.Builder
		for _, r := range reps {
			fmt.Fprintf(&hay, "%+v\n", r)
			for _, a := range r.Apps {
				fmt.Fprintf(&hay, "%s %v\n", a, a.Err)
			}
		}
		for _, name := range []string{"btc", "lnd", "plain"} {
			spec, obs, _ := n.rt.Container(name)
			fmt.Fprintf(&hay, "%+v %+v\n", spec, obs)
		}
		entries, _ := os.ReadDir(n.unitDir)
		for _, e := range entries {
			b, _ := os.ReadFile(filepath.Join(n.unitDir, e.Name()))
			hay.Write(b)
		}
		hay.WriteString(n.log.String())
		for _, canary := range []string{"leak-canary", "rpc-pass-0", "mac-0", "ui-0"} {
			if strings.Contains(hay.String(), canary) {
				t.Errorf("%q found in reports, specs, unit files or logs", canary)
			}
		}
		if v, _ := n.store.Value("rpc"); string(v) != "leak-canary-again" {
			t.Fatalf("the store holds %q", v)
		}
	})
}

func TestBadSecretInputIsRefusedBeforeAnySideEffect(t *testing.T) {
	n := newSecretNode(t)
	if err := n.comps.Register("btc", n.ui()); err != nil {
		t.Fatal(err)
	}
	mutate := map[string]func(a *orchestrator.App){
		"invalid name": func(a *orchestrator.App) {
			a.Secrets[0].Name = "rpc/x"
			a.Container.Secrets[0].Name = "rpc/x"
		},
		"referenced, not supplied": func(a *orchestrator.App) { a.Secrets = a.Secrets[1:] },
		"nil value":                func(a *orchestrator.App) { a.Secrets[0].Value = nil },
		"companion's secret not supplied": func(a *orchestrator.App) {
			a.Container.Secrets = nil
			a.Secrets = a.Secrets[:1] // rpc, not ui-key
		},
		"unknown consumer": func(a *orchestrator.App) {
			tf := a.Hooks[0].(hooks.TemplateFile)
			tf.Consumers = []string{"btc", "btc-gui"}
			a.Hooks = []hooks.Hook{tf}
		},
	}
	for name, f := range mutate {
		t.Run(name, func(t *testing.T) {
			a := n.apps()[0]
			f(&a)
			if _, err := n.o.Install(context.Background(), a); !errors.Is(err, runtime.ErrInvalidSpec) {
				t.Fatalf("Install: %v, want ErrInvalidSpec", err)
			}
			if err := n.o.RegisterAll(context.Background(), a); !errors.Is(err, runtime.ErrInvalidSpec) {
				t.Fatalf("RegisterAll: %v, want ErrInvalidSpec", err)
			}
			if c := n.rt.TotalCalls(); c != 0 || n.store.Rotations() != 0 {
				t.Fatalf("%d runtime calls, %d secrets stored", c, n.store.Rotations())
			}
			if _, err := os.Stat(filepath.Join(n.conf, "btc.conf")); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("a hook ran")
			}
		})
	}
	t.Run("no store", func(t *testing.T) {
		o := orchestrator.New(n.rt, orchestrator.Options{Logger: quiet, Companions: n.comps})
		if _, err := o.Install(context.Background(), n.apps()[1]); !errors.Is(err, runtime.ErrInvalidSpec) {
			t.Fatalf("Install without Options.Secrets: %v", err)
		}
	})
}
