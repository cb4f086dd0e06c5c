package orchestrator

import (
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestPhaseIsWithinTheInterval(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		name := rapid.StringMatching(`[a-z0-9][a-z0-9_.-]{0,62}`).Draw(t, "name")
		interval := time.Duration(rapid.Int64Range(1, int64(24*time.Hour)).Draw(t, "interval"))
		if p := phase(name, interval); p <= 0 || p > interval {
			t.Fatalf("phase(%q, %v) = %v", name, interval, p)
		}
	})
}

// The first checks of 52 apps armed together spread over their 30 s interval: no second of it
// holds more than a few.
func TestPhasesSpreadANodesApps(t *testing.T) {
	perSecond := map[time.Duration]int{}
	for i := range 52 {
		perSecond[phase(fmt.Sprintf("app-%03d", i), 30*time.Second).Truncate(time.Second)]++
	}
	for s, n := range perSecond {
		if n > 5 {
			t.Fatalf("%d of 52 first checks in second %v", n, s)
		}
	}
	if len(perSecond) < 20 {
		t.Fatalf("52 first checks fall in %d distinct seconds of 30", len(perSecond))
	}
}
