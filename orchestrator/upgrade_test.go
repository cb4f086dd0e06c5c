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

func TestSuccessfulUpgradeMovesLastGood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		o.Install(ctx, newApp("lnd"))
		v2 := newApp("lnd")
		v2.Container.Image = "localhost/lnd:2"
		rt.AddImage(v2.Container.Image)
		if rep, err := o.Install(ctx, v2); err != nil || rep.Action != orchestrator.ActionRecreate {
			t.Fatalf("%v %v", rep, err)
		}
		v3 := newApp("lnd")
		v3.Container.Image = "localhost/lnd:3"
		rt.AddImage(v3.Container.Image)
		rt.SetImageBehaviour(v3.Container.Image, fake.Behaviour{Unhealthy: true})
		if _, err := o.Install(ctx, v3); !errors.Is(err, orchestrator.ErrRolledBack) {
			t.Fatalf("err = %v", err)
		}
		if spec, _, _ := rt.Container("lnd"); spec.Image != v2.Container.Image {
			t.Fatalf("rolled back to %s, want the last good %s", spec.Image, v2.Container.Image)
		}
	})
}

func TestStopOnDependencyFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		btc, lnd := newApp("bitcoind"), newApp("lnd")
		lnd.DependsOn = []orchestrator.Dependency{{App: "bitcoind", StopOnFailure: true}}
		if err := o.RegisterAll(ctx, btc, lnd); err != nil {
			t.Fatal(err)
		}
		if rep := o.ReconcileAll(ctx); !rep.Converged() {
			t.Fatal(rep)
		}
		rt.SetBehaviour("bitcoind", fake.Behaviour{Unhealthy: true})
		rt.KillExternally("bitcoind")
		o.ReconcileAll(ctx) // bitcoind restarted but unhealthy
		rep := o.ReconcileAll(ctx)
		if _, obs, _ := rt.Container("lnd"); obs.State == runtime.StateRunning {
			t.Fatalf("lnd still running while bitcoind is unhealthy: %v", rep)
		}
		rt.ClearFaults()
		time.Sleep(orchestrator.BackoffMax)
		o.ReconcileAll(ctx)
		o.ReconcileAll(ctx)
		assertRunningHealthy(t, rt, "bitcoind")
		assertRunningHealthy(t, rt, "lnd")
	})
}

func TestAdoption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		app := newApp("electrs")
		byHand := app.Container // created by hand: same image and volume, no skerry labels
		byHand.Name = "electrs"
		rt.CreateExternally(byHand, runtime.StateRunning)
		rep, err := o.Install(ctx, app)
		if err != nil || rep.Action != orchestrator.ActionRecreate || !strings.Contains(rep.Reason, "adopting") {
			t.Fatalf("%v %v", rep, err)
		}
		_, obs, _ := rt.Container("electrs")
		if !obs.Managed() || obs.State != runtime.StateRunning || len(rt.Volumes()) != 1 {
			t.Fatalf("after adoption: %+v volumes %v", obs, rt.Volumes())
		}
	})
}

func TestForeignContainerConflicts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		app := newApp("mempool")
		other := runtime.ContainerSpec{Name: "mempool", Image: "docker.io/library/nginx:1.27",
			Mounts: []runtime.Mount{{Type: runtime.MountVolume, Source: "precious", Target: "/var/lib"}}}
		rt.CreateExternally(other, runtime.StateRunning)
		_, before, _ := rt.Container("mempool")
		if _, err := o.Install(ctx, app); !errors.Is(err, orchestrator.ErrConflict) || !strings.Contains(err.Error(), "nginx") {
			t.Fatalf("install over a foreign container: %v", err)
		}
		rep := o.ReconcileAll(ctx)
		if rep.Apps[0].Action != orchestrator.ActionConflict || !errors.Is(rep.Apps[0].Err, orchestrator.ErrConflict) {
			t.Fatalf("pass: %v", rep)
		}
		if _, err := o.Uninstall(ctx, "mempool", orchestrator.UninstallOptions{Purge: true}); !errors.Is(err, orchestrator.ErrConflict) {
			t.Fatalf("uninstall of a foreign container: %v", err)
		}
		if _, after, ok := rt.Container("mempool"); !ok || after.ID != before.ID || after.State != runtime.StateRunning {
			t.Fatal("a container skerry did not create was touched")
		}
		// Same image but a volume the spec does not mount: adopting would lose it.
		rt.RemoveExternally("mempool")
		lossy := app.Container
		lossy.Name = "mempool"
		lossy.Mounts = append(lossy.Mounts, runtime.Mount{Type: runtime.MountVolume, Source: "extra", Target: "/extra"})
		rt.CreateExternally(lossy, runtime.StateRunning)
		if _, err := o.Install(ctx, app); !errors.Is(err, orchestrator.ErrConflict) || !strings.Contains(err.Error(), "extra") {
			t.Fatalf("lossy adoption: %v", err)
		}
	})
}

func TestAdoptionBlocker(t *testing.T) {
	spec := runtime.ContainerSpec{Image: "busybox", Mounts: []runtime.Mount{{Source: "d", Target: "/d"}}}
	for _, tc := range []struct {
		obs  runtime.Observation
		want string
	}{
		{runtime.Observation{Image: "docker.io/library/busybox:latest"}, ""},
		{runtime.Observation{Image: "busybox", Mounts: []runtime.Mount{{Source: "d", Target: "/d"}}}, ""},
		{runtime.Observation{Image: "busybox", Mounts: []runtime.Mount{{Type: runtime.MountBind, Source: "/x", Target: "/x"}}}, ""},
		{runtime.Observation{Image: "busybox:1.36"}, "image"},
		{runtime.Observation{Image: "busybox", Mounts: []runtime.Mount{{Source: "d", Target: "/elsewhere"}}}, "volume d"},
		{runtime.Observation{Image: "localhost:5000/busybox"}, "image"},
	} {
		got := orchestrator.AdoptionBlocker(spec, tc.obs)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%+v: %q, want %q", tc.obs, got, tc.want)
		}
	}
}
