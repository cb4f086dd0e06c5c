package orchestrator_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

// An app owns network "lightning": it is created, labeled as the app's, before the container
// joins it, and removed after the uninstall once no container is attached any more.
func ExampleNetwork() {
	rt := fake.New()
	rt.AddImage("localhost/lnd:0.18")
	o := orchestrator.New(rt, orchestrator.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := context.Background()

	_, err := o.Install(ctx, orchestrator.App{
		Name:      "lnd",
		Networks:  []orchestrator.Network{{Name: "lightning"}},
		Container: runtime.ContainerSpec{Image: "localhost/lnd:0.18", Network: runtime.Network{Mode: runtime.NetworkNamed, Name: "lightning"}},
		MinUptime: 10 * time.Millisecond,
	})
	n, _ := rt.Network("lightning")
	fmt.Println("install:", err, "network owner:", n.Labels[runtime.LabelApp], "users:", rt.NetworkUsers("lightning"))

	_, err = o.Uninstall(ctx, "lnd", orchestrator.UninstallOptions{})
	_, exists := rt.Network("lightning")
	fmt.Println("uninstall:", err, "network exists:", exists)
	// Output:
	// install: <nil> network owner: lnd users: [lnd]
	// uninstall: <nil> network exists: false
}

// PlanNetworks is the pure decision the orchestrator carries out: what to create for the
// desired apps, what to remove (the engine refuses a network still in use), what to report.
func ExamplePlanNetworks() {
	plan := orchestrator.PlanNetworks(orchestrator.NetworkFacts{
		Owned: map[string][]orchestrator.Network{"lnd": {{Name: "lightning", Internal: true}}},
		Observed: []runtime.NetworkInfo{
			{Name: "podman"}, // not skerry's: never removed
			{Name: "old", Labels: map[string]string{runtime.LabelManaged: "true", runtime.LabelApp: "gone"}},
		},
	})
	fmt.Println("create:", plan.Create[0].Name, plan.Create[0].Labels[runtime.LabelApp], "remove:", plan.Remove)
	// Output:
	// create: lightning lnd remove: [old]
}
