package orchestrator_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime/fake"
)

type recordingCompanions struct {
	mu     sync.Mutex
	rt     *fake.Runtime
	events []string
}

func (c *recordingCompanions) Install(_ context.Context, app string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, "install "+app)
	return nil
}

func (c *recordingCompanions) Remove(_ context.Context, app string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _, exists := c.rt.Container(app)
	c.events = append(c.events, fmt.Sprintf("remove %s (app container exists: %v)", app, exists))
	return nil
}

func TestUninstallDisablesCompanionsFirstAndKeepsVolumes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		comps := &recordingCompanions{}
		rt, o := setup(orchestrator.Options{Companions: comps})
		comps.rt = rt
		ctx := context.Background()
		if _, err := o.Install(ctx, newApp("bitcoind")); err != nil {
			t.Fatal(err)
		}
		if _, err := o.Uninstall(ctx, "bitcoind", orchestrator.UninstallOptions{}); err != nil {
			t.Fatal(err)
		}
		want := []string{"install bitcoind", "remove bitcoind (app container exists: true)"}
		if !slices.Equal(comps.events, want) {
			t.Fatalf("companion events %q, want %q", comps.events, want)
		}
		if len(rt.Names()) != 0 || !slices.Equal(rt.Volumes(), []string{"bitcoind-data"}) {
			t.Fatalf("containers %v volumes %v", rt.Names(), rt.Volumes())
		}
		if len(o.Apps()) != 0 {
			t.Fatalf("apps = %v after uninstall", o.Apps())
		}
		// Reinstall reuses the volume; a purge removes it.
		if _, err := o.Install(ctx, newApp("bitcoind")); err != nil {
			t.Fatal(err)
		}
		if _, err := o.Uninstall(ctx, "bitcoind", orchestrator.UninstallOptions{Purge: true}); err != nil {
			t.Fatal(err)
		}
		if len(rt.Volumes()) != 0 {
			t.Fatalf("purge kept volumes %v", rt.Volumes())
		}
	})
}

func TestFailedUninstallIsRetriedByThePass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		o.Install(ctx, newApp("mempool"))
		rt.FailNth(fake.OpRemove, 1, errors.New("engine busy"))
		if _, err := o.Uninstall(ctx, "mempool", orchestrator.UninstallOptions{}); err == nil {
			t.Fatal("injected failure not reported")
		}
		rep := o.ReconcileAll(ctx)
		if rep.Apps[0].Action != orchestrator.ActionRemove || rep.Apps[0].Err != nil || len(rt.Names()) != 0 {
			t.Fatalf("%v; containers %v", rep, rt.Names())
		}
	})
}

// TestUninstallWithoutContainerRemovesCompanions: the container went (podman rm -f, or a kill
// between the remove and the create of a recreate), its companions did not: uninstall removes
// them all the same, whether explicit or by a pass.
func TestUninstallWithoutContainerRemovesCompanions(t *testing.T) {
	for _, how := range []string{"uninstall", "pass after a restart"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				comps := &recordingCompanions{}
				rt, o := setup(orchestrator.Options{Companions: comps})
				comps.rt = rt
				ctx := context.Background()
				if _, err := o.Install(ctx, newApp("bitcoind")); err != nil {
					t.Fatal(err)
				}
				rt.RemoveExternally("bitcoind")
				if how == "uninstall" {
					if _, err := o.Uninstall(ctx, "bitcoind", orchestrator.UninstallOptions{}); err != nil {
						t.Fatal(err)
					}
				} else {
					// A daemon restarted with the app no longer in its config: a pass knows nothing
					// of it, an explicit uninstall does.
					o = orchestrator.New(rt, orchestrator.Options{Logger: quiet, Companions: comps})
					if _, err := o.Uninstall(ctx, "bitcoind", orchestrator.UninstallOptions{}); err != nil {
						t.Fatal(err)
					}
				}
				want := []string{"install bitcoind", "remove bitcoind (app container exists: false)"}
				if !slices.Equal(comps.events, want) {
					t.Fatalf("companion events %q, want %q", comps.events, want)
				}
				if len(o.Apps()) != 0 {
					t.Fatalf("apps %v", o.Apps())
				}
			})
		})
	}
}

// Uninstall removes the app's release records whatever this process remembers of them (here,
// another orchestrator left lnd.FAILED after this one last looked).
func TestUninstallRemovesReleaseRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		if _, err := o.Install(ctx, newApp("lnd")); err != nil {
			t.Fatal(err)
		}
		rt.AddImage(broken)
		rt.SetImageBehaviour(broken, fake.Behaviour{Unhealthy: true})
		if _, err := restart(rt).Install(ctx, upgraded(broken)); !errors.Is(err, orchestrator.ErrRolledBack) {
			t.Fatal(err)
		}
		if _, err := o.Uninstall(ctx, "lnd", orchestrator.UninstallOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := rt.Names(); len(got) != 0 {
			t.Fatalf("containers left: %v", got)
		}
	})
}
