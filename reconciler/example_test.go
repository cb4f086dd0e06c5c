package reconciler_test

import (
	"context"
	"fmt"
	"time"

	"github.com/skerry-dev/skerry/reconciler"
)

// A loop whose pass reports a count; a daemon wires orchestrator.ReconcileAll in its place.
func ExampleLoop() {
	ctx, cancel := context.WithCancel(context.Background())
	passes := 0
	l := reconciler.New(func(context.Context) (int, error) {
		passes++
		return passes, nil
	}, reconciler.Options[int]{
		Interval: time.Hour,
		OnReport: func(n int, err error) {
			fmt.Println("pass", n, err)
			if n == 2 {
				cancel()
			}
		},
	})
	go func() { time.Sleep(10 * time.Millisecond); l.Trigger() }()
	fmt.Println(l.Run(ctx))
	// Output:
	// pass 1 <nil>
	// pass 2 <nil>
	// context canceled
}
