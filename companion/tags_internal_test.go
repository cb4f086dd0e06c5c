package companion

import (
	"testing"

	"pgregory.net/rapid"
)

func TestTagMovedTable(t *testing.T) {
	for _, tc := range []struct {
		running, tag string
		want         bool
	}{
		{"sha256:a", "sha256:a", false},
		{"sha256:a", "sha256:b", true},
		{"", "sha256:b", false}, // the engine did not say what the container runs
		{"sha256:a", "", false}, // the tag names no local image
		{"", "", false},
	} {
		if got := tagMoved(tc.running, tc.tag); got != tc.want {
			t.Errorf("tagMoved(%q, %q) = %v, want %v", tc.running, tc.tag, got, tc.want)
		}
	}
}

func TestTagMovedProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		id := rapid.SampledFrom([]string{"", "sha256:a", "sha256:b", "sha256:c"})
		running, tag := id.Draw(t, "running"), id.Draw(t, "tag")
		got := tagMoved(running, tag)
		if got && (running == "" || tag == "") {
			t.Fatalf("drift from an unknown image: %q %q", running, tag)
		}
		if got != tagMoved(tag, running) {
			t.Fatalf("not symmetric: %q %q", running, tag)
		}
		if tagMoved(running, running) {
			t.Fatalf("a container on its tag's image drifts: %q", running)
		}
		if running != "" && tag != "" && got != (running != tag) {
			t.Fatalf("known IDs that differ are drift, equal ones are not: %q %q -> %v", running, tag, got)
		}
	})
}
