package companion_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skerry-dev/skerry/companion"
	qfake "github.com/skerry-dev/skerry/quadlet/fake"
	rfake "github.com/skerry-dev/skerry/runtime/fake"
)

// A crash scenario: a node in a prior state, an operation a daemon was running when it died,
// and the registrations of the daemon that starts next. Every step of the operation is a
// place to die: before and after each mutating call of systemd (a crash after a file write is
// a crash before the call that follows it).
type crashScenario struct {
	name string
	// before brings the node to its prior state with a manager of its own.
	before func(t *testing.T, m *companion.Manager)
	// op is the operation that crashes.
	op func(m *companion.Manager) error
	// next registers what the restarted daemon knows; recover is what it runs first (a pass,
	// or the uninstall the embedder retries).
	next    map[string][]companion.Spec
	recover func(m *companion.Manager)
}

func withImage(s companion.Spec, image string) companion.Spec {
	s.Image = image
	return s
}

func crashScenarios() []crashScenario {
	ctx := context.Background()
	install := func(app string, specs ...companion.Spec) func(*testing.T, *companion.Manager) {
		return func(t *testing.T, m *companion.Manager) {
			if err := m.Register(app, specs...); err != nil {
				t.Fatal(err)
			}
			if err := m.Install(ctx, app); err != nil {
				t.Fatal(err)
			}
		}
	}
	v1 := []companion.Spec{uiSpec("lnd-ui"), uiSpec("lnd-rest")}
	v2 := []companion.Spec{withImage(uiSpec("lnd-ui"), "localhost/btc-ui:2"), uiSpec("lnd-rest"), uiSpec("lnd-explorer")}
	pass := func(m *companion.Manager) { m.Reconcile(ctx) }
	return []crashScenario{
		{
			name:    "install",
			before:  func(*testing.T, *companion.Manager) {},
			op:      func(m *companion.Manager) error { m.Register("lnd", v1...); return m.Install(ctx, "lnd") },
			next:    map[string][]companion.Spec{"lnd": v1},
			recover: pass,
		},
		{
			name:    "upgrade (one changed, one kept, one added)",
			before:  install("lnd", v1...),
			op:      func(m *companion.Manager) error { m.Register("lnd", v2...); return m.Install(ctx, "lnd") },
			next:    map[string][]companion.Spec{"lnd": v2},
			recover: pass,
		},
		{
			name:    "companion dropped from the app's list",
			before:  install("lnd", v1...),
			op:      func(m *companion.Manager) error { m.Register("lnd", v1[0]); return m.Install(ctx, "lnd") },
			next:    map[string][]companion.Spec{"lnd": v1[:1]},
			recover: pass,
		},
		{
			name:    "uninstall; the restarted daemon no longer knows the app",
			before:  install("lnd", v1...),
			op:      func(m *companion.Manager) error { return m.Remove(ctx, "lnd") },
			recover: pass,
		},
		{
			name:   "uninstall of an app registered by an earlier daemon only; the uninstall is retried",
			before: install("lnd", v1...),
			op: func(m *companion.Manager) error {
				return m.Remove(ctx, "lnd")
			},
			recover: func(m *companion.Manager) { m.Remove(ctx, "lnd") },
		},
		{
			name: "uninstall while another app stays",
			before: func(t *testing.T, m *companion.Manager) {
				install("lnd", v1...)(t, m)
				install("bitcoind", uiSpec("bitcoind-ui"))(t, m)
			},
			op: func(m *companion.Manager) error {
				m.Register("bitcoind", uiSpec("bitcoind-ui"))
				return m.Remove(ctx, "lnd")
			},
			next:    map[string][]companion.Spec{"bitcoind": {uiSpec("bitcoind-ui")}},
			recover: pass,
		},
	}
}

type crashEnv struct {
	dir    string
	units  *qfake.Manager
	images *rfake.Runtime
}

func newCrashEnv(t *testing.T) crashEnv {
	dir := t.TempDir()
	e := crashEnv{dir: dir, units: qfake.New(dir), images: rfake.New()}
	e.images.AddImage(uiImage, "localhost/btc-ui:2")
	return e
}

func (e crashEnv) manager(t *testing.T) *companion.Manager {
	m, err := companion.New(e.units, e.images, companion.Options{Dir: e.dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// runToCrash runs op and returns the crash it died of, if any.
func runToCrash(op func() error) (crash *qfake.Crash, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(qfake.Crash)
			if !ok {
				panic(r)
			}
			crash = &c
		}
	}()
	return nil, op()
}

func TestEveryCrashWindowConverges(t *testing.T) {
	for _, sc := range crashScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			// A clean run counts the steps.
			e := newCrashEnv(t)
			sc.before(t, e.manager(t))
			e.units.Journal()
			if _, err := runToCrash(func() error { return sc.op(e.manager(t)) }); err != nil {
				t.Fatalf("clean run: %v", err)
			}
			steps := e.units.Journal()
			if len(steps) == 0 {
				t.Fatal("the operation made no systemd call")
			}
			want := e.converged(t, sc)
			for i, step := range steps {
				for _, after := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s %d %s", map[bool]string{false: "before", true: "after"}[after], i+1, step), func(t *testing.T) {
						e := newCrashEnv(t)
						sc.before(t, e.manager(t))
						e.units.CrashAt(i+1, after)
						crash, _ := runToCrash(func() error { return sc.op(e.manager(t)) })
						if crash == nil || crash.Step != step {
							t.Fatalf("crash %+v, want one at %q", crash, step)
						}
						if got := e.converged(t, sc); !cmp.Equal(got, want) {
							t.Fatalf("after the crash and one pass (-clean run +crashed run):\n%s", cmp.Diff(want, got))
						}
					})
				}
			}
		})
	}
}

// nodeState is what a converged node must show.
type nodeState struct {
	Files, Active, Loaded []string
}

// converged starts the next daemon over e, runs its recovery, checks the invariants and that a
// second pass does nothing, and returns the node's state.
func (e crashEnv) converged(t *testing.T, sc crashScenario) nodeState {
	t.Helper()
	m := e.manager(t)
	for _, app := range slices.Sorted(maps.Keys(sc.next)) {
		if err := m.Register(app, sc.next[app]...); err != nil {
			t.Fatal(err)
		}
	}
	sc.recover(m)
	var st nodeState
	entries, _ := os.ReadDir(e.dir)
	for _, f := range entries {
		st.Files = append(st.Files, f.Name())
	}
	st.Active, st.Loaded = e.units.Active(), e.units.Loaded()
	var desired []string
	for _, specs := range sc.next {
		for _, s := range specs {
			desired = append(desired, s.Name+".service")
		}
	}
	slices.Sort(desired)
	if !slices.Equal(st.Active, desired) || !slices.Equal(st.Loaded, desired) || len(st.Files) != len(desired) {
		t.Errorf("not converged on %v: %+v", desired, st)
	}
	for _, unit := range desired {
		name := strings.TrimSuffix(unit, ".service")
		file, err := os.ReadFile(filepath.Join(e.dir, name+".container"))
		if err != nil {
			t.Error(err)
			continue
		}
		if running, ok := e.units.Running(unit); !ok || running != string(file) {
			t.Errorf("%s runs another unit file than the one on disk:\n%s\nfile:\n%s", unit, running, file)
		}
		if u, _ := e.units.Unit(context.Background(), unit); u.NeedDaemonReload {
			t.Errorf("%s: stale after the pass", unit)
		}
	}
	e.units.Journal()
	for _, r := range m.Reconcile(context.Background()) {
		if r.Action != companion.ActionNone || r.Rewritten || r.Err != nil || r.Status != companion.StatusActive {
			t.Errorf("second pass: %+v", r)
		}
	}
	if calls := e.units.Journal(); len(calls) != 0 {
		t.Errorf("second pass acted: %v", calls)
	}
	return st
}

// A crash is a panic of the fake: the errors.Is chain of a crashed operation is never seen.
var _ error = qfake.Crash{}

func TestCrashIsNotAnErrorOfTheOperation(t *testing.T) {
	e := newCrashEnv(t)
	e.units.CrashAt(1, false)
	m := e.manager(t)
	m.Register("lnd", uiSpec("lnd-ui"))
	crash, err := runToCrash(func() error { return m.Install(context.Background(), "lnd") })
	if crash == nil || err != nil || errors.Is(err, companion.ErrConflict) {
		t.Fatalf("crash %v err %v", crash, err)
	}
}
