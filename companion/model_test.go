package companion_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/skerry-dev/skerry/companion"
	qfake "github.com/skerry-dev/skerry/quadlet/fake"
	rfake "github.com/skerry-dev/skerry/runtime/fake"
)

// TestCrashingDaemonsConvergeProperty: daemons with changing configs install, upgrade, drop and
// uninstall companions, and die at a random systemd step; after each, a daemon that registers
// the current config, retries the pending uninstalls and runs one pass leaves exactly the
// desired companions running on their current files, and nothing else.
func TestCrashingDaemonsConvergeProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		dir := t.TempDir()
		units, images := qfake.New(dir), rfake.New()
		images.AddImage(uiImage, "localhost/btc-ui:2")
		daemon := func() *companion.Manager {
			m, err := companion.New(units, images, companion.Options{Dir: dir, Logger: quiet})
			if err != nil {
				rt.Fatal(err)
			}
			return m
		}
		pool := map[string][]string{"a": {"a-ui", "a-rest"}, "b": {"b-ui"}}
		config := map[string][]companion.Spec{} // installed apps; absent: uninstalled
		ctx := context.Background()
		register := func(m *companion.Manager) {
			for app, specs := range config {
				m.Register(app, specs...)
			}
		}
		for i := range rapid.IntRange(1, 6).Draw(rt, "runs") {
			app := rapid.SampledFrom([]string{"a", "b"}).Draw(rt, fmt.Sprintf("app%d", i))
			var specs []companion.Spec
			for _, name := range pool[app] {
				switch rapid.IntRange(0, 2).Draw(rt, fmt.Sprintf("%s%d", name, i)) {
				case 1:
					specs = append(specs, uiSpec(name))
				case 2:
					specs = append(specs, withImage(uiSpec(name), "localhost/btc-ui:2"))
				}
			}
			uninstall := rapid.IntRange(0, 3).Draw(rt, fmt.Sprintf("uninstall%d", i)) == 0
			if uninstall {
				delete(config, app)
			} else {
				config[app] = specs
			}
			units.CrashAt(rapid.IntRange(0, 6).Draw(rt, fmt.Sprintf("crash%d", i)), rapid.Bool().Draw(rt, fmt.Sprintf("after%d", i)))
			m := daemon()
			register(m)
			runToCrash(func() error {
				if uninstall {
					return m.Remove(ctx, app)
				}
				return m.Install(ctx, app)
			})
			units.CrashAt(0, false)

			// The next daemon: the current config, the uninstalls retried, one pass.
			m = daemon()
			register(m)
			for a := range pool {
				if _, ok := config[a]; !ok {
					if err := m.Remove(ctx, a); err != nil {
						rt.Fatalf("retried uninstall of %s: %v", a, err)
					}
				}
			}
			for _, r := range m.Reconcile(ctx) {
				if r.Err != nil {
					rt.Fatalf("pass: %+v", r)
				}
			}
			var want []string
			for _, specs := range config {
				for _, s := range specs {
					want = append(want, s.Name+".service")
				}
			}
			slices.Sort(want)
			if got := units.Active(); !slices.Equal(got, want) {
				rt.Fatalf("active %v, want %v", got, want)
			}
			if got := units.Loaded(); !slices.Equal(got, want) {
				rt.Fatalf("loaded %v, want %v", got, want)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != len(want) {
				rt.Fatalf("files %v, want those of %v", entries, want)
			}
			for _, unit := range want {
				file, _ := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(unit, ".service")+".container"))
				if running, _ := units.Running(unit); running != string(file) {
					rt.Fatalf("%s runs another file than its own", unit)
				}
			}
		}
	})
}
