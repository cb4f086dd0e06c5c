//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package e2e_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/podman"
)

// waitRecovered polls until name runs a new container that passes its check.
func (n *node) waitRecovered(t *testing.T, name, oldID string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		o, err := n.rt.Inspect(context.Background(), name)
		if err == nil && o.State == runtime.StateRunning && (o.ID != oldID || !o.StartedAt.IsZero()) {
			if h, err := n.rt.RunHealthCheck(context.Background(), name); err == nil && h == runtime.HealthHealthy {
				return time.Since(start)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s not recovered within %v", name, within)
	return 0
}

// TestEventsRecoverWithoutPeriodicPass: no periodic pass runs here; only the event stream can
// bring a killed app back. The stream must also survive the podman service going away.
func TestEventsRecoverWithoutPeriodicPass(t *testing.T) {
	n := newNode(t)
	a := app(uniq("events"))
	n.install(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.o.WatchEvents(ctx, n.rt, nil)
	time.Sleep(500 * time.Millisecond) // the stream is open

	before := n.mustBeHealthy(t, a.Name)
	podmanCLI(t, "kill", a.Name)
	took := n.waitRecovered(t, a.Name, before.ID, 30*time.Second)
	t.Logf("kill -> running and healthy through events: %v", took)

	// The API service goes away and comes back: the stream is reopened.
	for _, args := range [][]string{{"stop", "podman.socket", "podman.service"}, {"start", "podman.socket"}} {
		if out, err := exec.Command("systemctl", append([]string{"--user"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("systemctl %v: %v %s", args, err, out)
		}
	}
	// Past the watch's reopen backoff (1 s) and the app's crash-loop backoff (10 s after the
	// first restart), so the second kill is restarted at once.
	time.Sleep(orchestrator.BackoffInitial + time.Second)
	before = n.mustBeHealthy(t, a.Name)
	podmanCLI(t, "kill", a.Name)
	took = n.waitRecovered(t, a.Name, before.ID, 30*time.Second)
	t.Logf("after the service restart, kill -> recovered: %v", took)
}

// silentEvents is the podman runtime with an event stream that never delivers.
type silentEvents struct{ *podman.Runtime }

func (silentEvents) Events(ctx context.Context) (<-chan runtime.Event, error) {
	ch := make(chan runtime.Event)
	go func() { <-ctx.Done(); close(ch) }()
	return ch, nil
}

// TestExitWaitRecoversWithoutEvents: no periodic pass, no events; only the wait kept open on
// the running app (podman's wait call) can bring a killed app back.
func TestExitWaitRecoversWithoutEvents(t *testing.T) {
	n := newNode(t)
	a := app(uniq("wait"))
	n.install(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	watching := make(chan struct{})
	go func() { n.o.WatchEvents(ctx, silentEvents{n.rt}, nil); close(watching) }()
	time.Sleep(500 * time.Millisecond) // the wait is open

	before := n.mustBeHealthy(t, a.Name)
	if err := n.rt.Kill(ctx, a.Name, "SIGKILL"); err != nil {
		t.Fatal(err)
	}
	took := n.waitRecovered(t, a.Name, before.ID, 30*time.Second)
	t.Logf("kill -> running and healthy through the exit wait alone: %v", took)
	cancel()
	<-watching // every wait ended with WatchEvents
}

// TestStoppedCompanionRestartedByUnitEvents: no periodic reconcile runs; the user manager's
// state-change signal alone brings a companion stopped by hand back.
func TestStoppedCompanionRestartedByUnitEvents(t *testing.T) {
	n := newNode(t)
	a := app(uniq("unitev"))
	n.install(t, a, ui(a.Name))
	ctx, cancel := context.WithCancel(context.Background())
	watching := make(chan struct{})
	go func() { n.comps.WatchUnits(ctx, n.units.UnitChanges); close(watching) }()
	defer func() { cancel(); <-watching }()
	time.Sleep(500 * time.Millisecond)
	unit := a.Name + "-ui.service"
	start := time.Now()
	if out, err := exec.Command("systemctl", "--user", "stop", unit).CombinedOutput(); err != nil {
		t.Fatalf("systemctl stop: %v %s", err, out)
	}
	for n.unitState(t, unit).ActiveState != "active" {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("companion not restarted: %+v", n.unitState(t, unit))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("stopped by hand -> active again through unit events: %v", time.Since(start))
}
