package companion

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/skerry-dev/skerry/quadlet"
)

func TestDecideTable(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    facts
		want verdict
	}{
		{"registered, file written by skerry", facts{Registered: true, File: true, Marked: true, OwnerKnown: true}, vKeep},
		{"registered, no file yet", facts{Registered: true, OwnerKnown: true}, vKeep},
		{"registered again after a removal began", facts{Registered: true, Tomb: true, OwnerKnown: true}, vKeep},
		{"registered, the name held by a file skerry did not write", facts{Registered: true, File: true}, vConflict},
		{"a file skerry did not write next to a tombstone of skerry's", facts{File: true, Tomb: true}, vConflict},
		{"dropped from a registered app's list", facts{File: true, Marked: true, OwnerKnown: true}, vDrop},
		{"its app being removed", facts{File: true, Marked: true, OwnerRemoving: true}, vDrop},
		{"its app being removed, file already gone", facts{OwnerRemoving: true}, vDrop},
		{"a removal begun by an earlier daemon", facts{Tomb: true}, vDrop},
		{"unknown app", facts{File: true, Marked: true}, vOrphan},
		{"unknown app, pruning", facts{File: true, Marked: true, Prune: true}, vDrop},
	} {
		if got := decide(tc.f); got != tc.want {
			t.Errorf("%s: decide(%+v) = %v, want %v", tc.name, tc.f, got, tc.want)
		}
	}
}

func TestDecideProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := facts{
			Registered: rapid.Bool().Draw(t, "registered"), File: rapid.Bool().Draw(t, "file"),
			Tomb: rapid.Bool().Draw(t, "tomb"), OwnerKnown: rapid.Bool().Draw(t, "known"),
			OwnerRemoving: rapid.Bool().Draw(t, "removing"), Prune: rapid.Bool().Draw(t, "prune"),
		}
		f.Marked = f.File && rapid.Bool().Draw(t, "marked")
		v := decide(f)
		if v < vKeep || v > vConflict {
			t.Fatalf("invalid verdict %d", v)
		}
		if f.File && !f.Marked && v != vConflict {
			t.Fatalf("a file skerry did not write would be touched: %+v -> %v", f, v)
		}
		if f.Registered && v == vDrop {
			t.Fatalf("a registered companion dropped: %+v", f)
		}
		if v == vOrphan && (f.OwnerKnown || f.OwnerRemoving || f.Tomb || f.Prune || f.Registered) {
			t.Fatalf("orphan although its fate is known: %+v", f)
		}
		// A daemon that knows no app, removes none and does not prune removes only what a
		// removal had begun.
		if !f.Registered && !f.OwnerKnown && !f.OwnerRemoving && !f.Prune && !f.Tomb && v == vDrop {
			t.Fatalf("removed with an empty app list: %+v", f)
		}
	})
}

func TestStatusOf(t *testing.T) {
	for _, tc := range []struct {
		active, sub string
		want        Status
	}{
		{"active", "running", StatusActive},
		{"reloading", "reload", StatusActive},
		{"activating", "start", StatusStarting},
		{"activating", "auto-restart", StatusRestarting},
		{"failed", "failed", StatusFailed},
		{"inactive", "dead", StatusInactive},
		{"deactivating", "stop-sigterm", StatusInactive},
		{"maintenance", "", StatusUnknown},
	} {
		if got := statusOf(quadlet.UnitState{ActiveState: tc.active, SubState: tc.sub}); got != tc.want {
			t.Errorf("%s/%s: %q, want %q", tc.active, tc.sub, got, tc.want)
		}
	}
}

func TestOwnerOf(t *testing.T) {
	for _, tc := range []struct {
		data string
		app  string
		ok   bool
	}{
		{"# skerry: companion-of=bitcoind\n[Container]\n", "bitcoind", true},
		{marker("lnd") + "# Rendered by skerry\n", "lnd", true},
		{"# skerry: companion-of=bitcoind", "", false}, // no line end: a torn or hand-made file
		{"[Container]\n# skerry: companion-of=bitcoind\n", "", false},
		{"# skerry: companion-of=Bad/App\n", "", false},
		{"# skerry: companion-of=\n", "", false},
		{"#skerry: companion-of=bitcoind\n", "", false},
		{"", "", false},
		// Written by skerry before the marker existed.
		{legacyHeader + "\n[Container]\nImage=a\nLabel=\"io.skerry.companion-of=lnd\"\n", "lnd", true},
		{legacyHeader + "\n[Container]\nImage=a\n", "", false},
		{legacyHeader + "\n[Container]\nLabel=\"io.skerry.companion-of=Bad App\"\n", "", false},
	} {
		app, ok := ownerOf([]byte(tc.data))
		if app != tc.app || ok != tc.ok {
			t.Errorf("ownerOf(%q) = %q, %v; want %q, %v", tc.data, app, ok, tc.app, tc.ok)
		}
	}
}

func TestSplitUnitFile(t *testing.T) {
	for file, want := range map[string][2]string{
		"ui.container":                {"ui", ".container"},
		"ui.container.skerry-removed": {"ui", tombSuffix},
		"ui.container.skerry-restart": {"ui", restartSuffix},
		"ui.volume":                   {"", ""},
		".ui.container.tmp-123":       {"", ""},
	} {
		if name, kind := splitUnitFile(file); name != want[0] || kind != want[1] {
			t.Errorf("%s: %q %q, want %q", file, name, kind, want)
		}
	}
	if !isStrayTemp(".ui.container.tmp-123") || isStrayTemp("ui.container") || isStrayTemp(".ui.env.tmp-1") {
		t.Error("isStrayTemp")
	}
}
