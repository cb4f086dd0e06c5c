package tagcache

import (
	"testing"
	"time"
)

func TestMovable(t *testing.T) {
	for ref, want := range map[string]bool{"localhost/ui:1": true, "ui": true, "": false, "localhost/ui@sha256:0123": false,
		"localhost/ui:1@sha256:0123": false} {
		if got := Movable(ref); got != want {
			t.Errorf("Movable(%q) = %v, want %v", ref, got, want)
		}
	}
}

func TestDue(t *testing.T) {
	var c Cache
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	if !c.Due("a:1", t0, false, time.Minute) {
		t.Fatal("an unknown tag is not due")
	}
	c.Set("a:1", "sha256:a", t0)
	if c.ID("a:1") != "sha256:a" || c.Due("a:1", t0.Add(59*time.Second), false, time.Minute) {
		t.Fatal("a fresh tag is due, or its ID is lost")
	}
	if !c.Due("a:1", t0, true, time.Minute) || !c.Due("a:1", t0.Add(time.Minute), false, time.Minute) {
		t.Fatal("a forced or aged tag is not due")
	}
	c.Stale("a:1")
	c.Stale("b:1") // unknown: nothing to mark
	if !c.Due("a:1", t0, false, time.Minute) || c.ID("b:1") != "" {
		t.Fatal("a stale tag is not due")
	}
}
