//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package e2e_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
)

// TestAppOwnedNetwork: an app owns network n, created before its container and labeled as its;
// the app and its companion (a Quadlet unit with Network=n) join it and the companion reaches
// the app by name (aardvark-dns); Uninstall keeps n while a user's container is attached to it,
// and the next pass removes it once that container is gone.
func TestAppOwnedNetwork(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	netName, foreign := uniq("net"), uniq("net-user")
	t.Cleanup(func() {
		exec.Command("podman", "rm", "-f", "-t", "0", foreign).Run()
		exec.Command("podman", "network", "rm", "-f", netName).Run()
	})
	a := app(uniq("netapp"))
	a.Networks = []orchestrator.Network{{Name: netName}}
	a.Container.Network = runtime.Network{Mode: runtime.NetworkNamed, Name: netName}
	c := ui(a.Name)
	c.Network = a.Container.Network
	n.install(t, a, c)

	labels := podmanCLI(t, "network", "inspect", "--format", "{{index .Labels \"io.skerry.app\"}} {{index .Labels \"io.skerry.managed\"}} {{.DNSEnabled}}", netName)
	if labels != a.Name+" true true" {
		t.Fatalf("network labels/dns: %q", labels)
	}
	for _, ctr := range []string{a.Name, c.Name} {
		if nets := podmanCLI(t, "inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", ctr); strings.TrimSpace(nets) != netName {
			t.Fatalf("%s is on %q, want %s", ctr, nets, netName)
		}
	}
	// The companion reaches the app by its name, resolved by the network's DNS.
	if out := podmanCLI(t, "exec", c.Name, "wget", "-q", "-O-", "http://"+a.Name+":8080/"); strings.Contains(out, "bad address") {
		t.Fatalf("companion could not resolve the app: %s", out)
	}

	// A user's container on the network: Uninstall removes the app and keeps the network.
	podmanCLI(t, "create", "--name", foreign, "--network", netName, image, "sleep", "600")
	rep, err := n.o.Uninstall(ctx, a.Name, orchestrator.UninstallOptions{Purge: true})
	if err != nil || !strings.Contains(rep.Reason, "networks kept while in use: "+netName) {
		t.Fatalf("uninstall: %v, reason %q", err, rep.Reason)
	}
	if n.containersOf(t, a.Name) != 0 {
		t.Fatal("app container left")
	}
	if err := exec.Command("podman", "network", "exists", netName).Run(); err != nil {
		t.Fatalf("network removed while a user's container uses it: %v", err)
	}
	n.o.ReconcileAll(ctx)
	if err := exec.Command("podman", "network", "exists", netName).Run(); err != nil {
		t.Fatalf("a pass removed the network while in use: %v", err)
	}
	podmanCLI(t, "rm", foreign)
	n.o.ReconcileAll(ctx)
	if err := exec.Command("podman", "network", "exists", netName).Run(); err == nil {
		t.Fatal("network kept once free")
	}
}
