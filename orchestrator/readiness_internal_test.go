package orchestrator

import (
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestReadyIn(t *testing.T) {
	start := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	const up = 2 * time.Second
	for _, tc := range []struct {
		name                     string
		checked, guarded, passed bool
		after                    time.Duration // since the start
		wantIn                   time.Duration
		wantKnown                bool
	}{
		{"no check, just started", false, false, true, 0, up, true},
		{"no check, half way", false, false, true, time.Second, time.Second, true},
		{"no check, up for MinUptime", false, false, true, up, 0, true},
		{"no check, guarded: the same", false, true, true, time.Second, time.Second, true},
		{"fresh, check not passed", true, false, false, time.Second, 0, false},
		{"fresh, check not passed past MinUptime", true, false, false, time.Minute, 0, false},
		{"fresh, check passed at once", true, false, true, 100 * time.Millisecond, 0, true},
		{"guarded, check not passed", true, true, false, 3 * time.Second, 0, false},
		{"guarded, check passed early", true, true, true, 500 * time.Millisecond, 1500 * time.Millisecond, true},
		{"guarded, check passed, up for MinUptime", true, true, true, up, 0, true},
		{"guarded, check passed late", true, true, true, 5 * time.Second, -3 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := readiness{checked: tc.checked, guarded: tc.guarded, passed: tc.passed, startedAt: start, minUptime: up}
			in, known := r.readyIn(start.Add(tc.after))
			if in != tc.wantIn || known != tc.wantKnown {
				t.Fatalf("readyIn = %v, %v; want %v, %v", in, known, tc.wantIn, tc.wantKnown)
			}
		})
	}
}

// The guard only delays, and only where it guards: an app with a check is never ready before
// it passed; a fresh start of a checked app is ready the moment its check passed; whatever is
// ready guarded is ready fresh; a guarded start or an app without a check is never ready before
// MinUptime and always at it.
func TestReadyInProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		start := time.Unix(rapid.Int64Range(0, 1<<32).Draw(t, "start"), 0)
		r := readiness{
			checked: rapid.Bool().Draw(t, "checked"), guarded: rapid.Bool().Draw(t, "guarded"),
			passed: rapid.Bool().Draw(t, "passed"), startedAt: start,
			minUptime: time.Duration(rapid.Int64Range(0, int64(time.Hour)).Draw(t, "minUptime")),
		}
		now := start.Add(time.Duration(rapid.Int64Range(-int64(time.Minute), int64(2*time.Hour)).Draw(t, "since")))
		ready := func(r readiness) bool { in, known := r.readyIn(now); return known && in <= 0 }
		upFor := !now.Before(start.Add(r.minUptime))
		if r.checked && !r.passed && ready(r) {
			t.Fatal("ready before its check passed")
		}
		if r.checked && !r.guarded && r.passed && !ready(r) {
			t.Fatal("a fresh start whose check passed is not ready")
		}
		fresh := r
		fresh.guarded = false
		if ready(r) && !ready(fresh) {
			t.Fatal("ready guarded, not fresh")
		}
		if (r.guarded || !r.checked) && (r.passed || !r.checked) && ready(r) != upFor {
			t.Fatalf("ready=%v, up for MinUptime=%v", ready(r), upFor)
		}
		if in, known := r.readyIn(now); known && in > 0 {
			// A wait it asks for ends at MinUptime, and then the container is ready.
			if !now.Add(in).Equal(start.Add(r.minUptime)) {
				t.Fatalf("told to wait %v from %v, not until MinUptime", in, now)
			}
			if in, known := r.readyIn(now.Add(in)); !known || in > 0 {
				t.Fatalf("not ready after the wait: %v, %v", in, known)
			}
		}
	})
}
