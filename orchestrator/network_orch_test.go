package orchestrator_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

// netApp is an app that owns network n and joins it.
func netApp(name, network string) orchestrator.App {
	a := newApp(name)
	a.Networks = []orchestrator.Network{{Name: network}}
	a.Container.Network = runtime.Network{Mode: runtime.NetworkNamed, Name: network}
	return a
}

func TestOwnedNetworkLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		if _, err := o.Install(ctx, netApp("web", "n")); err != nil {
			t.Fatal(err)
		}
		got, ok := rt.Network("n")
		if diff := cmp.Diff(runtime.NetworkInfo{Name: "n", Labels: owned("web")}, got); !ok || diff != "" {
			t.Fatalf("network (-want +got, exists=%v):\n%s", ok, diff)
		}
		assertRunningHealthy(t, rt, "web")
		// A second app joins the first one's network by name, as a companion does.
		joiner := newApp("db")
		joiner.Container.Network = runtime.Network{Mode: runtime.NetworkNamed, Name: "n"}
		if _, err := o.Install(ctx, joiner); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"db", "web"}, rt.NetworkUsers("n")); diff != "" {
			t.Fatalf("users (-want +got):\n%s", diff)
		}
		// Uninstalling the owner keeps the network: the joiner is attached.
		rep, err := o.Uninstall(ctx, "web", orchestrator.UninstallOptions{})
		if err != nil || !strings.Contains(rep.Reason, "networks kept while in use: n") {
			t.Fatalf("uninstall: %v %q", err, rep.Reason)
		}
		if _, ok := rt.Network("n"); !ok {
			t.Fatal("network removed while in use")
		}
		o.ReconcileAll(ctx)
		if _, ok := rt.Network("n"); !ok {
			t.Fatal("network removed by a pass while joined by a desired app")
		}
		// Once the joiner is gone too, the next pass removes it.
		if _, err := o.Uninstall(ctx, "db", orchestrator.UninstallOptions{}); err != nil {
			t.Fatal(err)
		}
		o.ReconcileAll(ctx)
		if _, ok := rt.Network("n"); ok {
			t.Fatal("network of an uninstalled app kept once free")
		}
		rt.ResetCalls()
		o.ReconcileAll(ctx)
		if n := rt.Calls(fake.OpListNetworks); n != 0 {
			t.Fatalf("a pass with nothing pending listed networks %d times", n)
		}
	})
}

func TestOwnedNetworkKeptWhileAForeignContainerUsesIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		if _, err := o.Install(ctx, netApp("web", "n")); err != nil {
			t.Fatal(err)
		}
		rt.CreateExternally(runtime.ContainerSpec{Name: "users-own", Image: image,
			Network: runtime.Network{Mode: runtime.NetworkNamed, Name: "n"}}, runtime.StateExited)
		if _, err := o.Uninstall(ctx, "web", orchestrator.UninstallOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, ok := rt.Network("n"); !ok {
			t.Fatal("network removed under a stopped foreign container")
		}
		if _, _, ok := rt.Container("web"); ok {
			t.Fatal("app's container left")
		}
		rep := o.ReconcileAll(ctx)
		if _, ok := rt.Network("n"); !ok {
			t.Fatal("pass removed a network in use")
		}
		if diff := cmp.Diff([]string{"n"}, rep.KeptNetworks); diff != "" {
			t.Errorf("the pass's KeptNetworks (-want +got):\n%s", diff)
		}
		rt.RemoveExternally("users-own")
		rep = o.ReconcileAll(ctx)
		if _, ok := rt.Network("n"); ok {
			t.Fatal("network kept once free")
		}
		if len(rep.KeptNetworks) != 0 {
			t.Errorf("KeptNetworks once removed: %v", rep.KeptNetworks)
		}
	})
}

func TestNetworkValidationBeforeAnySideEffect(t *testing.T) {
	userNet := runtime.NetworkSpec{Name: "users"}
	cases := []struct {
		name string
		app  func() orchestrator.App
		want error
	}{
		{"reserved name", func() orchestrator.App {
			a := newApp("a")
			a.Networks = []orchestrator.Network{{Name: "podman"}}
			return a
		}, runtime.ErrInvalidSpec},
		{"bad name", func() orchestrator.App {
			a := newApp("a")
			a.Networks = []orchestrator.Network{{Name: "N/1"}}
			return a
		}, runtime.ErrInvalidSpec},
		{"listed twice", func() orchestrator.App {
			a := newApp("a")
			a.Networks = []orchestrator.Network{{Name: "n"}, {Name: "n"}}
			return a
		}, runtime.ErrInvalidSpec},
		{"owned by another app", func() orchestrator.App { return netApp("a", "taken") }, orchestrator.ErrNetworkClash},
		{"joins a network nobody owns that does not exist", func() orchestrator.App {
			a := newApp("a")
			a.Container.Network = runtime.Network{Mode: runtime.NetworkNamed, Name: "nowhere"}
			return a
		}, orchestrator.ErrNoSuchNetwork},
		{"owns a user's network", func() orchestrator.App { return netApp("a", "users") }, orchestrator.ErrNetworkConflict},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt, o := setup(orchestrator.Options{})
				ctx := context.Background()
				if err := rt.AddNetwork(userNet); err != nil {
					t.Fatal(err)
				}
				if _, err := o.Install(ctx, netApp("owner", "taken")); err != nil {
					t.Fatal(err)
				}
				rt.ResetCalls()
				_, err := o.Install(ctx, c.app())
				if !errors.Is(err, c.want) {
					t.Fatalf("install: %v, want %v", err, c.want)
				}
				if n := rt.TotalCalls() - rt.Calls(fake.OpListNetworks); n != 0 {
					t.Fatalf("%d runtime calls other than the network list before the refusal", n)
				}
				if err := o.RegisterAll(ctx, c.app()); !errors.Is(err, c.want) {
					t.Fatalf("register: %v, want %v", err, c.want)
				}
				if diff := cmp.Diff([]string{"owner"}, o.Apps()); diff != "" {
					t.Fatalf("apps (-want +got):\n%s", diff)
				}
			})
		})
	}
	t.Run("joins a user's existing network", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rt, o := setup(orchestrator.Options{})
			if err := rt.AddNetwork(userNet); err != nil {
				t.Fatal(err)
			}
			a := newApp("a")
			a.Container.Network = runtime.Network{Mode: runtime.NetworkNamed, Name: "users"}
			if _, err := o.Install(context.Background(), a); err != nil {
				t.Fatal(err)
			}
		})
	})
}

// containersOnly hides the fake's optional capabilities.
type containersOnly struct{ runtime.Runtime }

func TestOwnedNetworkNeedsANetworkManager(t *testing.T) {
	rt := fake.New()
	rt.AddImage(image)
	o := orchestrator.New(containersOnly{rt}, orchestrator.Options{Logger: quiet})
	_, err := o.Install(context.Background(), netApp("a", "n"))
	var oe *orchestrator.NetworkOwnerError
	if !errors.Is(err, orchestrator.ErrNoNetworkManager) || !errors.Is(err, runtime.ErrInvalidSpec) || !errors.As(err, &oe) {
		t.Fatalf("install: %v, want ErrNoNetworkManager", err)
	}
	if rt.TotalCalls() != 0 {
		t.Fatalf("%d runtime calls before the refusal", rt.TotalCalls())
	}
}

// TestChangedNetworkOptionsAreRefused: an Install whose owned network exists with other
// options is refused before any side effect; the running app keeps running on the network.
func TestChangedNetworkOptionsAreRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		a := netApp("web", "n")
		if _, err := o.Install(ctx, a); err != nil {
			t.Fatal(err)
		}
		_, before, _ := rt.Container("web")
		a.Networks[0].Internal = true
		if _, err := o.Install(ctx, a); !errors.Is(err, orchestrator.ErrNetworkChanged) {
			t.Fatalf("install: %v, want ErrNetworkChanged", err)
		}
		if _, after, _ := rt.Container("web"); after.ID != before.ID || after.State != runtime.StateRunning {
			t.Fatalf("the running app was touched: %+v", after)
		}
		if n, _ := rt.Network("n"); n.Internal {
			t.Fatal("network changed")
		}
	})
}

// TestJoinerBeforeOwnerConverges: an app that joins another app's network converges in one
// pass whichever container the pass creates first; the network is labeled as its owner's.
func TestJoinerBeforeOwnerConverges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{Workers: 1})
		ctx := context.Background()
		joiner := newApp("aa-joiner") // sorts, and is created, first
		joiner.Container.Network = runtime.Network{Mode: runtime.NetworkNamed, Name: "n"}
		if err := o.RegisterAll(ctx, joiner, netApp("web", "n")); err != nil {
			t.Fatal(err)
		}
		if rep := o.ReconcileAll(ctx); !rep.Converged() {
			t.Fatalf("pass: %v", rep)
		}
		if n, _ := rt.Network("n"); n.Labels[runtime.LabelApp] != "web" {
			t.Fatalf("network %+v, want web's", n)
		}
		if diff := cmp.Diff([]string{"aa-joiner", "web"}, rt.NetworkUsers("n")); diff != "" {
			t.Fatalf("users (-want +got):\n%s", diff)
		}
	})
}

// TestDroppedNetworkIsRemovedOnceFree: an app whose new release owns no network any more is
// recreated off it, and the next pass removes the network.
func TestDroppedNetworkIsRemovedOnceFree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		if _, err := o.Install(ctx, netApp("web", "n")); err != nil {
			t.Fatal(err)
		}
		o.ReconcileAll(ctx) // the start-up sweep is done
		if _, err := o.Install(ctx, newApp("web")); err != nil {
			t.Fatal(err)
		}
		if users := rt.NetworkUsers("n"); len(users) != 0 {
			t.Fatalf("users %v after the recreate", users)
		}
		o.ReconcileAll(ctx)
		if _, ok := rt.Network("n"); ok {
			t.Fatal("dropped network kept once free")
		}
	})
}
