package orchestrator_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
)

// units is a unit manager holding transient units.
type units struct {
	mu      sync.Mutex
	loaded  []string
	stopped []string
}

func (u *units) ListUnits(_ context.Context, patterns []string) ([]string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !cmp.Equal(patterns, []string{strings.Repeat("?", 64) + "-*.timer"}) {
		return nil, nil
	}
	var out []string
	for _, n := range u.loaded {
		if strings.HasSuffix(n, ".timer") {
			out = append(out, n)
		}
	}
	return out, nil
}

func (u *units) Stop(_ context.Context, unit string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.stopped = append(u.stopped, unit)
	u.loaded = slices.DeleteFunc(u.loaded, func(n string) bool { return n == unit })
	return nil
}

// TestStrayCheckTimersAreRemoved: a check timer whose container is gone or stopped is removed
// with its service; the timers of running containers (managed or not) are kept; sweeps come at
// the first pass and then every TimerSweepInterval.
func TestStrayCheckTimersAreRemoved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := &units{}
		rt, o := setup(orchestrator.Options{CheckTimers: u})
		ctx := context.Background()
		for _, n := range []string{"bitcoind", "lnd"} {
			if _, err := o.Install(ctx, newApp(n)); err != nil {
				t.Fatal(err)
			}
		}
		companion := newApp("lnd-ui").ContainerSpec()
		companion.Labels = nil // not managed by the orchestrator
		rt.CreateExternally(companion, runtime.StateRunning)
		id := func(name string) string {
			_, obs, _ := rt.Container(name)
			return obs.ID
		}
		rt.CreateExternally(newApp("electrs").ContainerSpec(), runtime.StateExited) // stopped, its timer left
		gone := strings.Repeat("ab", 32)
		timer := func(id string) string { return id + "-6f2c1e0d9a8b7c6d.timer" }
		u.loaded = []string{timer(id("bitcoind")), timer(id("electrs")), timer(id("lnd-ui")), timer(gone), strings.TrimSuffix(timer(gone), ".timer") + ".service", "other.timer"}

		rep := o.ReconcileAll(ctx)
		want := []string{timer(id("electrs")), timer(gone)}
		slices.Sort(want)
		got := slices.Sorted(slices.Values(rep.StrayTimers))
		if !cmp.Equal(got, want) {
			t.Fatalf("removed %v, want %v", got, want)
		}
		if !slices.Contains(u.stopped, strings.TrimSuffix(timer(gone), ".timer")+".service") {
			t.Fatalf("the stray timer's service was not stopped: %v", u.stopped)
		}
		if !slices.Contains(u.loaded, timer(id("bitcoind"))) || !slices.Contains(u.loaded, timer(id("lnd-ui"))) {
			t.Fatalf("a running container's timer was removed: %v", u.loaded)
		}

		u.loaded = append(u.loaded, timer(strings.Repeat("cd", 32)))
		if rep := o.ReconcileAll(ctx); len(rep.StrayTimers) != 0 {
			t.Fatalf("a sweep before TimerSweepInterval: %v", rep.StrayTimers)
		}
		time.Sleep(orchestrator.TimerSweepInterval)
		if rep := o.ReconcileAll(ctx); len(rep.StrayTimers) != 1 {
			t.Fatalf("the sweep after TimerSweepInterval: %v", rep.StrayTimers)
		}
	})
}
