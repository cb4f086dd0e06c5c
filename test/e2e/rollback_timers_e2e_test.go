//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package e2e_test

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/skerry-dev/skerry/orchestrator"
)

// TestStrayCheckTimerRemovedOnPodman: a podman health-check timer whose container is gone (what
// a kill in the middle of a restart can leave) is removed by a pass with Options.CheckTimers;
// the timer of a running app is kept.
func TestStrayCheckTimerRemovedOnPodman(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	a := app(uniq("timer"))
	n.install(t, a)
	running := n.mustBeHealthy(t, a.Name)
	timers := func(id string) []string {
		out, err := exec.Command("systemctl", "--user", "list-units", "--all", "--plain", "--no-legend", id+"-*.timer").CombinedOutput()
		if err != nil {
			t.Fatalf("systemctl: %v\n%s", err, out)
		}
		var names []string
		for line := range strings.Lines(string(out)) {
			if f := strings.Fields(line); len(f) > 0 {
				names = append(names, f[0])
			}
		}
		return names
	}
	if len(timers(running.ID)) == 0 {
		t.Fatalf("the running app has no podman check timer")
	}

	gone := strings.Repeat("e2", 32) // a container ID that no longer exists
	stray := gone + "-5e7a1c0ffee.timer"
	if out, err := exec.Command("systemd-run", "--user", "--unit="+strings.TrimSuffix(stray, ".timer"), "--on-active=1h", "/bin/true").CombinedOutput(); err != nil {
		t.Fatalf("systemd-run: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("systemctl", "--user", "stop", stray).Run() })
	if got := timers(gone); !slices.Equal(got, []string{stray}) {
		t.Fatalf("stray timer not loaded: %v", got)
	}

	o := orchestrator.New(n.rt, orchestrator.Options{Logger: logger, Companions: n.comps, CheckTimers: n.units})
	if err := o.RegisterAll(ctx, a); err != nil {
		t.Fatal(err)
	}
	rep := o.ReconcileAll(ctx)
	if !slices.Contains(rep.StrayTimers, stray) || !appReport(t, rep, a.Name).OK() {
		t.Fatalf("pass: %v, removed %v", rep, rep.StrayTimers)
	}
	if got := timers(gone); len(got) != 0 {
		t.Fatalf("the stray timer is still loaded: %v", got)
	}
	if len(timers(running.ID)) == 0 {
		t.Fatal("the running app's check timer was removed")
	}
	n.mustBeHealthy(t, a.Name)
}
