package orchestrator_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
)

// A burst of deaths is served at once, not in waves of Workers: an event-driven pass gives its
// worker slot back while it only waits for its restarted app to be ready, as ReconcileAll's
// passes do. The apps have no check, so each wait lasts MinUptime.
func TestBurstOfDeathsIsNotServedInWaves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{Workers: 2})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var names []string
		for i := range 8 {
			names = append(names, fmt.Sprintf("app%d", i))
			app := newApp(names[i])
			app.Health = health.Check{}
			if _, err := o.Install(ctx, app); err != nil {
				t.Fatal(err)
			}
		}
		watching := make(chan struct{})
		go func() { o.WatchEvents(ctx, rt, nil); close(watching) }()
		defer func() {
			cancel()
			<-watching
		}()
		synctest.Wait()
		for _, n := range names {
			rt.KillExternally(n)
		}
		time.Sleep(orchestrator.DefaultMinUptime / 2) // well before a first wave's waits end
		synctest.Wait()
		for _, n := range names {
			if _, obs, _ := rt.Container(n); obs.State != runtime.StateRunning || time.Since(obs.StartedAt) != orchestrator.DefaultMinUptime/2 {
				t.Fatalf("%s: %v since %v, want running since the burst", n, obs.State, time.Since(obs.StartedAt))
			}
		}
	})
}
