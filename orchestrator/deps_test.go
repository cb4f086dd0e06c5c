package orchestrator_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

func TestDependencyOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		btc, lnd, ui := newApp("bitcoind"), newApp("lnd"), newApp("lnd-ui")
		lnd.DependsOn = []orchestrator.Dependency{{App: "bitcoind"}}
		ui.DependsOn = []orchestrator.Dependency{{App: "lnd", Condition: orchestrator.Running}}
		if err := o.RegisterAll(ctx, ui, lnd, btc); err != nil {
			t.Fatal(err)
		}
		rt.SetBehaviour("bitcoind", fake.Behaviour{Unhealthy: true})
		rep := o.ReconcileAll(ctx)
		acts := map[string]orchestrator.Action{}
		for _, a := range rep.Apps {
			acts[a.App] = a.Action
		}
		if acts["lnd"] != orchestrator.ActionWait || acts["lnd-ui"] != orchestrator.ActionWait {
			t.Fatalf("dependants did not wait: %v", rep)
		}
		if _, _, ok := rt.Container("lnd"); ok {
			t.Fatal("lnd was created before bitcoind was healthy")
		}
		rt.ClearFaults()
		time.Sleep(orchestrator.BackoffMax)
		if rep := o.ReconcileAll(ctx); !rep.Converged() {
			t.Fatalf("one pass after the fault cleared: %v", rep)
		}
		for _, n := range []string{"bitcoind", "lnd", "lnd-ui"} {
			assertRunningHealthy(t, rt, n)
		}
		// A failing dependency leaves running dependants alone.
		rt.SetHealth("bitcoind", runtime.HealthUnhealthy)
		rt.SetBehaviour("bitcoind", fake.Behaviour{Unhealthy: true})
		o.ReconcileAll(ctx)
		assertRunningHealthy(t, rt, "lnd")
	})
}

func TestDependencyGraphValidation(t *testing.T) {
	_, o := setup(orchestrator.Options{})
	ctx := context.Background()
	a, b := newApp("a"), newApp("b")
	a.DependsOn = []orchestrator.Dependency{{App: "b"}}
	b.DependsOn = []orchestrator.Dependency{{App: "a"}}
	if err := o.RegisterAll(ctx, a, b); !errors.Is(err, runtime.ErrInvalidSpec) || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("cycle: err = %v", err)
	}
	if err := o.Register(ctx, a); !errors.Is(err, runtime.ErrInvalidSpec) || !strings.Contains(err.Error(), "not a registered app") {
		t.Fatalf("missing dependency: err = %v", err)
	}
	if len(o.Apps()) != 0 {
		t.Fatalf("apps registered despite errors: %v", o.Apps())
	}
}
