//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package e2e_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/skerry-dev/skerry"
	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/quadlet"
	"github.com/skerry-dev/skerry/runtime"
)

// The supervisor as a daemon embeds it: two apps and a companion on podman and the user manager
// converge in its passes; a cancel (SIGTERM) makes Run return within its bound, also with a
// restart in flight, and leaves apps and companion running; a second Run converges again.
func TestSupervisorConvergesAndStopsWithinItsBound(t *testing.T) {
	n := newNode(t) // podman and the user manager; the supervisor builds its own orchestrator
	btc, lnd := app(uniq("sup-btc")), app(uniq("sup-lnd"))
	lnd.DependsOn = []orchestrator.Dependency{{App: btc.Name, Condition: orchestrator.Healthy}}
	// lnd's check passes 3 s after each start (a start is ready at its first passing check).
	lnd.Container.Command = []string{"sh", "-c", "rm -f /tmp/up; (sleep 3; touch /tmp/up) & exec httpd -f -p 8080 -h /www"}
	lnd.Health = health.Check{Exec: []string{"sh", "-c", "test -e /tmp/up && wget -q -O- http://127.0.0.1:8080/"}, StartPeriod: 10 * time.Second}
	comp := ui(btc.Name)
	// A bound of 2 s: the passes in flight get 1 s, less than lnd's restart needs (its check
	// passes 3 s after the start), so the shutdown below abandons a readiness wait on the real
	// engine.
	const bound = 2 * time.Second

	var mu sync.Mutex
	var reports []skerry.Report
	converged := make(chan struct{}, 1)
	sup, err := skerry.New(n.rt, n.units, skerry.Options{Interval: 2 * time.Second, ShutdownTimeout: bound, Logger: logger,
		OnReport: func(r skerry.Report) {
			mu.Lock()
			reports = append(reports, r)
			mu.Unlock()
			t.Logf("%s %s", r.Source, r)
			if r.Source == skerry.SourcePass && r.Converged() && r.Acted() == 0 {
				select {
				case converged <- struct{}{}:
				default:
				}
			}
		}},
		skerry.App{App: btc, Companions: []companion.Spec{comp}}, skerry.App{App: lnd})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, name := range []string{lnd.Name, btc.Name} {
			sup.Uninstall(context.Background(), name, orchestrator.UninstallOptions{Purge: true})
		}
	})
	unit := quadlet.ServiceName(comp.Name)

	run := func() (stop func() time.Duration) {
		select { // a signal of the previous Run
		case <-converged:
		default:
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- sup.Run(ctx) }()
		select {
		case <-converged:
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		case <-time.After(3 * time.Minute):
			cancel()
			t.Fatal("no converged pass within 3 min")
		}
		return func() time.Duration {
			cancel()
			at := time.Now()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("Run returned %v, want context.Canceled", err)
			}
			return time.Since(at)
		}
	}

	stop := run()
	btcID := n.mustBeHealthy(t, btc.Name).ID
	n.mustBeHealthy(t, lnd.Name)
	if st := n.unitState(t, unit); st.ActiveState != "active" {
		t.Fatalf("companion %s is %s", unit, st.ActiveState)
	}
	if st, _ := sup.Status().App(btc.Name); st.State != runtime.StateRunning || len(st.Companions) != 1 ||
		st.Companions[0].Status != companion.StatusActive {
		t.Fatalf("status of %s: %+v", btc.Name, st)
	}

	// A restart in flight at the cancel: lnd killed, its exit wait starts a pass at once.
	podmanCLI(t, "kill", lnd.Name)
	time.Sleep(500 * time.Millisecond)
	took := stop()
	t.Logf("Run returned %v after the cancel (bound %v)", took, bound)
	if took > bound {
		t.Fatalf("Run took %v to return, bound %v", took, bound)
	}
	if got := n.mustBeHealthy(t, btc.Name).ID; got != btcID {
		t.Fatalf("%s was recreated across the shutdown", btc.Name)
	}
	if st := n.unitState(t, unit); st.ActiveState != "active" {
		t.Fatalf("companion %s is %s after the shutdown", unit, st.ActiveState)
	}
	mu.Lock()
	for _, r := range reports {
		if r.Interrupted {
			t.Logf("interrupted: %s %v", r.Source, r)
			if r.Converged() {
				t.Errorf("an interrupted pass reported converged: %v", r)
			}
		}
	}
	mu.Unlock()

	// The next Run judges whatever the shutdown left and converges.
	stop = run()
	n.mustBeHealthy(t, lnd.Name)
	if took := stop(); took > bound {
		t.Fatalf("idle Run took %v to return", took)
	}
}
