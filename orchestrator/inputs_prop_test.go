package orchestrator_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"text/template"

	"pgregory.net/rapid"

	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/hooks"
	"github.com/skerry-dev/skerry/orchestrator"
	qfake "github.com/skerry-dev/skerry/quadlet/fake"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

// TestRotationRestartsExactlyItsConsumers: on a node whose apps and companions consume random
// subsets of four secrets (as env or file) and of a file rendered from the first one, every
// rotation of a random subset of the secrets recreates or restarts, within one pass, exactly
// the consumers of what it changed; nothing else moves.
func TestRotationRestartsExactlyItsConsumers(t *testing.T) {
	parent := t.TempDir()
	rapid.Check(t, func(t *rapid.T) {
		rapid.SyncTest(t, func(t *rapid.T) {
			const nSecrets = 4
			secretName := func(i int) string { return fmt.Sprintf("s%d", i) }
			var mu sync.Mutex
			values := map[string]string{}
			for i := range nSecrets {
				values[secretName(i)] = secretName(i) + "-0"
			}
			value := func(name string) orchestrator.Secret {
				return orchestrator.Secret{Name: name, Value: func(context.Context) ([]byte, error) {
					mu.Lock()
					defer mu.Unlock()
					return []byte(values[name]), nil
				}}
			}
			dir, err := os.MkdirTemp(parent, "node")
			if err != nil {
				t.Fatal(err)
			}
			unitDir, conf := filepath.Join(dir, "units"), filepath.Join(dir, "conf")
			for _, d := range []string{unitDir, conf} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			rt, units, store := fake.New(), qfake.New(unitDir), fake.NewSecrets()
			rt.AddImage(image, uiImage)
			comps, err := companion.New(units, rt, companion.Options{Dir: unitDir, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			o := orchestrator.New(rt, orchestrator.Options{Logger: quiet, Companions: comps, Secrets: store})

			// consumes[consumer] = the inputs it reads: secret names, and "file" for the rendered one.
			consumes := map[string][]string{}
			refs := func(label string) []runtime.SecretRef {
				var out []runtime.SecretRef
				for i := range nSecrets {
					if rapid.Bool().Draw(t, fmt.Sprintf("%s reads s%d", label, i)) {
						r := runtime.SecretRef{Name: secretName(i)}
						if rapid.Bool().Draw(t, fmt.Sprintf("%s reads s%d as env", label, i)) {
							r.Kind, r.Target = runtime.SecretEnv, fmt.Sprintf("S%d", i)
						}
						out = append(out, r)
						consumes[label] = append(consumes[label], r.Name)
					}
				}
				return out
			}
			var apps []orchestrator.App
			for a := range 3 {
				name, ui := fmt.Sprintf("a%d", a), fmt.Sprintf("a%d-ui", a)
				app := orchestrator.App{Name: name, Container: runtime.ContainerSpec{Image: image, Secrets: refs(name)},
					Health: health.Check{Exec: []string{"true"}}}
				for i := range nSecrets {
					app.Secrets = append(app.Secrets, value(secretName(i)))
				}
				if err := comps.Register(name, companion.Spec{Name: ui, Image: uiImage, Secrets: refs(ui)}); err != nil {
					t.Fatal(err)
				}
				var readers []string
				for _, c := range []string{name, ui} {
					if rapid.Bool().Draw(t, c+" reads the rendered file") {
						readers = append(readers, c)
						consumes[c] = append(consumes[c], "file")
					}
				}
				if len(readers) > 0 {
					app.Hooks = []hooks.Hook{hooks.TemplateFile{Path: filepath.Join(conf, name+".conf"),
						Template: template.Must(template.New("c").Parse("password={{.}}\n")),
						Data: func(context.Context) (any, error) {
							mu.Lock()
							defer mu.Unlock()
							return values["s0"], nil
						},
						Consumers: readers}}
				}
				apps = append(apps, app)
			}
			ctx := context.Background()
			for _, a := range apps {
				if _, err := o.Install(ctx, a); err != nil {
					t.Fatalf("install %s: %v", a.Name, err)
				}
			}
			generation := func() map[string]string {
				out := map[string]string{}
				for _, a := range apps {
					_, obs, _ := rt.Container(a.Name)
					out[a.Name] = obs.ID + "/" + obs.State.String()
					content, running := units.Running(a.Name + "-ui.service")
					out[a.Name+"-ui"] = fmt.Sprint(content, running)
				}
				return out
			}
			for step := range 4 {
				rotated := map[string]bool{}
				for i := range nSecrets {
					if rapid.Bool().Draw(t, fmt.Sprintf("step %d rotates s%d", step, i)) {
						rotated[secretName(i)] = true
					}
				}
				rotated["file"] = rotated["s0"]
				var want []string
				for c, ins := range consumes {
					if slices.ContainsFunc(ins, func(in string) bool { return rotated[in] }) {
						want = append(want, c)
					}
				}
				slices.Sort(want)
				before := generation()
				mu.Lock()
				for name := range rotated {
					values[name] = fmt.Sprintf("%s-%d", name, step+1)
				}
				mu.Unlock()
				if rep := o.ReconcileAll(ctx); !rep.Converged() {
					t.Fatalf("step %d: %v", step, rep.Apps)
				}
				if got := moved(before, generation()); !slices.Equal(got, want) {
					t.Fatalf("step %d rotated %v: moved %v, want %v", step, rotated, got, want)
				}
			}
		})
	})
}
