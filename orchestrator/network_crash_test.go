package orchestrator_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

// TestCrashAroundOwnedNetworksConverges: a daemon killed right after any step that changes an
// owned network's state leaves the host as below; a daemon restarted with its config (the app
// desired or not) converges at its first pass: the app's container on its network, or no
// network left once nothing uses it.
func TestCrashAroundOwnedNetworksConverges(t *testing.T) {
	web := netApp("web", "n")
	windows := []struct {
		name    string
		left    func(t *testing.T, rt *fake.Runtime)
		desired bool
	}{
		{"install: after the network's create, before the container's", func(t *testing.T, rt *fake.Runtime) {
			addOwned(t, rt, "web", "n")
		}, true},
		{"install: after the network's create; the app dropped from the config", func(t *testing.T, rt *fake.Runtime) {
			addOwned(t, rt, "web", "n")
		}, false},
		{"uninstall: after the container's removal, before the network's", func(t *testing.T, rt *fake.Runtime) {
			installed(t, rt, web)
			rt.RemoveExternally("web")
		}, false},
		{"uninstall: before the container's removal", func(t *testing.T, rt *fake.Runtime) {
			installed(t, rt, web)
		}, false},
		{"the app running, reinstalled after a restart", func(t *testing.T, rt *fake.Runtime) {
			installed(t, rt, web)
		}, true},
	}
	for _, w := range windows {
		t.Run(w.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt := fake.New()
				rt.AddImage(image)
				w.left(t, rt)
				o := orchestrator.New(rt, orchestrator.Options{Logger: quiet, PruneOrphans: true})
				ctx := context.Background()
				if w.desired {
					if err := o.RegisterAll(ctx, web); err != nil {
						t.Fatal(err)
					}
				}
				if rep := o.ReconcileAll(ctx); !rep.Converged() && w.desired {
					t.Fatalf("first pass: %v", rep)
				}
				if !w.desired {
					// The orphan container (if any) was pruned in this pass; its network goes
					// at the next, once free.
					o.ReconcileAll(ctx)
				}
				_, exists := rt.Network("n")
				if exists != w.desired {
					t.Fatalf("network exists=%v, want %v; engine: %s", exists, w.desired, rt)
				}
				if w.desired {
					assertRunningHealthy(t, rt, "web")
					if got, _ := rt.Network("n"); got.Labels[runtime.LabelApp] != "web" {
						t.Fatalf("network %+v", got)
					}
				}
			})
		})
	}
}

// TestFailedNetworkRemovalIsRetried: an uninstall whose network removal fails reports it; the
// next pass removes the network.
func TestFailedNetworkRemovalIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		if _, err := o.Install(ctx, netApp("web", "n")); err != nil {
			t.Fatal(err)
		}
		o.ReconcileAll(ctx) // the start-up sweep is done
		hiccup := errors.New("engine hiccup")
		rt.FailNth(fake.OpRemoveNetwork, 1, hiccup)
		if _, err := o.Uninstall(ctx, "web", orchestrator.UninstallOptions{}); !errors.Is(err, hiccup) {
			t.Fatalf("uninstall: %v, want the removal's failure", err)
		}
		o.ReconcileAll(ctx)
		if _, ok := rt.Network("n"); ok {
			t.Fatal("the next pass did not remove the network")
		}
	})
}

func addOwned(t *testing.T, rt *fake.Runtime, app, network string) {
	t.Helper()
	if err := rt.AddNetwork(runtime.NetworkSpec{Name: network, Labels: owned(app)}); err != nil {
		t.Fatal(err)
	}
}

// installed installs app with an orchestrator that then dies.
func installed(t *testing.T, rt *fake.Runtime, app orchestrator.App) {
	t.Helper()
	if _, err := orchestrator.New(rt, orchestrator.Options{Logger: quiet}).Install(context.Background(), app); err != nil {
		t.Fatal(err)
	}
}
