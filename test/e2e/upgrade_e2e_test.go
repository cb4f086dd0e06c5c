//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package e2e_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
)

func TestFailedUpgradeRollsBackOnPodman(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	a := app(uniq("upgrade"))
	n.install(t, a)
	podmanCLI(t, "exec", a.Name, "sh", "-c", "echo keep > /data/state")
	before := n.mustBeHealthy(t, a.Name)

	broken := a
	broken.Container.Command = []string{"sh", "-c", "echo new release cannot start; exit 4"}
	rep, err := n.o.Install(ctx, broken)
	if !errors.Is(err, orchestrator.ErrRolledBack) || !errors.Is(err, orchestrator.ErrNotReady) {
		t.Fatalf("broken upgrade: %v", err)
	}
	if !strings.Contains(strings.Join(rep.Logs, "\n"), "cannot start") {
		t.Fatalf("rollback report lacks the failed release's log: %q", rep.Logs)
	}
	after := n.mustBeHealthy(t, a.Name)
	if after.ID != before.ID || after.SpecHash() != before.SpecHash() { // the very container that ran
		t.Fatalf("not back on the last good spec: %s -> %s", before.SpecHash(), after.SpecHash())
	}
	if got := podmanCLI(t, "exec", a.Name, "cat", "/data/state"); got != "keep" {
		t.Fatalf("data after rollback: %q", got)
	}
	if rep := n.o.ReconcileAll(ctx); rep.Acted() != 0 {
		t.Fatalf("the abandoned upgrade is retried: %v", rep)
	}
}

// MinUptime guards an upgrade, not a fresh start: a release that passes its check and dies 2 s
// later is ready when installed fresh (at its first passing check), and rolled back as an
// upgrade (its MinUptime, 5 s, not reached).
func TestUpgradeThatDiesAfterItsCheckRollsBackOnPodman(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	shortLived := func(a orchestrator.App) orchestrator.App {
		a.Container.Command = []string{"sh", "-c", "httpd -p 8080 -h /www; sleep 2; echo short-lived; exit 4"}
		a.MinUptime = 5 * time.Second
		return a
	}

	fresh := shortLived(app(uniq("short")))
	t.Cleanup(func() { n.o.Uninstall(context.Background(), fresh.Name, orchestrator.UninstallOptions{Purge: true}) })
	if _, err := n.o.Install(ctx, fresh); err != nil {
		t.Fatalf("fresh install of a release that passes its check: %v", err)
	}

	a := app(uniq("guarded"))
	n.install(t, a)
	before := n.mustBeHealthy(t, a.Name)
	rep, err := n.o.Install(ctx, shortLived(a))
	if !errors.Is(err, orchestrator.ErrRolledBack) || !errors.Is(err, orchestrator.ErrNotReady) || !strings.Contains(err.Error(), "exit code 4") {
		t.Fatalf("upgrade to a release that dies after its check: %v", err)
	}
	if !strings.Contains(strings.Join(rep.Logs, "\n"), "short-lived") {
		t.Fatalf("rollback report lacks the failed release's log: %q", rep.Logs)
	}
	if after := n.mustBeHealthy(t, a.Name); after.ID != before.ID {
		t.Fatalf("not back on the container that ran: %s -> %s", before.ID, after.ID)
	}
}

func TestAdoptionOnPodman(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	a := app(uniq("adopt"))
	t.Cleanup(func() { n.o.Uninstall(context.Background(), a.Name, orchestrator.UninstallOptions{Purge: true}) })
	// Created by hand, as an older tool would have: same image and volume, no skerry labels.
	podmanCLI(t, "run", "-d", "--name", a.Name, "-v", a.Name+"-data:/data", image, "httpd", "-f", "-p", "8080", "-h", "/www")
	podmanCLI(t, "exec", a.Name, "sh", "-c", "echo old-data > /data/f")
	rep, err := n.o.Install(ctx, a)
	if err != nil || rep.Action != orchestrator.ActionRecreate || !strings.Contains(rep.Reason, "adopting") {
		t.Fatalf("adoption: %v %v", rep, err)
	}
	if o := n.mustBeHealthy(t, a.Name); !o.Managed() {
		t.Fatal("adopted container lacks skerry's labels")
	}
	if got := podmanCLI(t, "exec", a.Name, "cat", "/data/f"); got != "old-data" {
		t.Fatalf("adopted app's data: %q", got)
	}
}

func TestForeignContainerIsNeverDeletedOnPodman(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	a := app(uniq("foreign"))
	t.Cleanup(func() { podmanCLI(t, "rm", "-f", a.Name); podmanCLI(t, "volume", "rm", "precious-"+a.Name) })
	podmanCLI(t, "run", "-d", "--name", a.Name, "-v", "precious-"+a.Name+":/keep", image, "sleep", "1000")
	id := podmanCLI(t, "inspect", "-f", "{{.Id}}", a.Name)
	if _, err := n.o.Install(ctx, a); !errors.Is(err, orchestrator.ErrConflict) {
		t.Fatalf("install over a foreign container: %v", err)
	}
	n.o.ReconcileAll(ctx)
	if _, err := n.o.Uninstall(ctx, a.Name, orchestrator.UninstallOptions{Purge: true}); !errors.Is(err, orchestrator.ErrConflict) {
		t.Fatalf("uninstall of a foreign container: %v", err)
	}
	if o := n.obs(t, a.Name); o.ID != id || o.State != runtime.StateRunning {
		t.Fatalf("the foreign container was touched: %v %v", o.ID, o.State)
	}
}
