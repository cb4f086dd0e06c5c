package orchestrator_test

import (
	"context"
	"fmt"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

// BenchmarkReconcileNoop measures a pass over N healthy apps on the fake runtime. It reports
// runtime calls per pass (must be 1: the list) and allocations per app.
//
//	go test ./orchestrator -run '^$' -bench ReconcileNoop -benchmem
func BenchmarkReconcileNoop(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("apps=%d", n), func(b *testing.B) {
			rt, o := setup(orchestrator.Options{})
			ctx := context.Background()
			for i := range n {
				app := newApp(fmt.Sprintf("app%04d", i))
				rt.CreateExternally(app.ContainerSpec(), runtime.StateRunning)
				if err := o.Register(ctx, app); err != nil {
					b.Fatal(err)
				}
			}
			if rep := o.ReconcileAll(ctx); rep.Acted() != 0 || !rep.Converged() {
				b.Fatalf("setup pass acted: %v", rep)
			}
			rt.ResetCalls()
			b.ReportAllocs()
			var before, after goruntime.MemStats
			goruntime.ReadMemStats(&before)
			for b.Loop() {
				o.ReconcileAll(ctx)
			}
			goruntime.ReadMemStats(&after)
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*n), "allocs/app")
			calls := float64(rt.TotalCalls()) / float64(b.N)
			if rt.Calls(fake.OpList) != rt.TotalCalls() {
				b.Fatalf("a no-op pass made calls other than list: %d of %d", rt.TotalCalls()-rt.Calls(fake.OpList), rt.TotalCalls())
			}
			b.ReportMetric(calls, "runtime-calls/pass")
		})
	}
}

func BenchmarkDecide(b *testing.B) {
	f := orchestrator.Facts{
		Desired: true, SpecHash: "h1",
		Observed: runtime.Observation{Name: "lnd", State: runtime.StateRunning, Labels: map[string]string{runtime.LabelSpecHash: "h1"}},
		Health:   runtime.HealthHealthy, Now: time.Now(),
	}
	b.ReportAllocs()
	for b.Loop() {
		orchestrator.Decide(f)
	}
}
