//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
)

// TestScheduledCheckRestartsUnhealthyApp: with ScheduleExecChecks, podman gets a check it never
// runs on its own; skerry runs it on the app's interval. No events and no periodic pass here, so
// only a scheduled check can find the app broken and bring the restart.
func TestScheduledCheckRestartsUnhealthyApp(t *testing.T) {
	n := newNode(t)
	n.o = orchestrator.New(n.rt, orchestrator.Options{Logger: logger, ScheduleExecChecks: true})
	a := app(uniq("sched"))
	a.Health = health.Check{Exec: a.Health.Exec, Interval: time.Second, Timeout: time.Second, FailureThreshold: 2}
	// httpd runs beside PID 1, so that killing it breaks the check without ending the container,
	// and a restart brings it back.
	a.Container.Command = []string{"sh", "-c", "httpd -f -p 8080 -h /www & echo $! >/tmp/httpd.pid; exec sleep 1000000"}
	n.install(t, a)
	first := n.obs(t, a.Name)
	if first.Health != runtime.HealthHealthy {
		t.Fatalf("after install: %v", first.Health)
	}
	// Podman runs no check of its own: the recorded health stays as the readiness check left it
	// while nothing else asks.
	podmanCLI(t, "exec", a.Name, "sh", "-c", "kill $(cat /tmp/httpd.pid)")
	time.Sleep(3 * time.Second)
	if o := n.obs(t, a.Name); o.Health != runtime.HealthHealthy || o.StartedAt != first.StartedAt {
		t.Fatalf("without the schedule: %v, started %v (was %v)", o.Health, o.StartedAt, first.StartedAt)
	}

	ctx, cancel := context.WithCancel(context.Background())
	watching := make(chan struct{})
	start := time.Now()
	go func() { n.o.WatchEvents(ctx, silentEvents{n.rt}, nil); close(watching) }()
	for {
		o := n.obs(t, a.Name)
		if o.State == runtime.StateRunning && o.StartedAt.After(first.StartedAt) && o.Health == runtime.HealthHealthy {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("not restarted by the schedule: %+v", o)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("broken check -> restarted and healthy through the schedule: %v", time.Since(start))
	cancel()
	<-watching
}
