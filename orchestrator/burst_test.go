package orchestrator_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/skerry-dev/skerry/orchestrator"
)

// A burst of deaths is served at once, not in waves of Workers: an event-driven pass gives its
// worker slot back while it only waits for its restarted app to be ready (MinUptime), as
// ReconcileAll's passes do.
func TestBurstOfDeathsIsNotServedInWaves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{Workers: 2})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var names []string
		for i := range 8 {
			names = append(names, fmt.Sprintf("app%d", i))
			if _, err := o.Install(ctx, newApp(names[i])); err != nil {
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
			assertRunningHealthy(t, rt, n)
		}
	})
}
