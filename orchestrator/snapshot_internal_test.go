package orchestrator

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/skerry-dev/skerry/runtime"
)

func TestValidateSnapshotVolumes(t *testing.T) {
	mounts := []runtime.Mount{
		{Type: runtime.MountVolume, Source: "db", Target: "/db"},
		{Type: runtime.MountBind, Source: "/srv/conf", Target: "/conf"},
	}
	for _, tc := range []struct {
		name   string
		marked []string
		want   []string // the fields with a problem
	}{
		{"none", nil, nil},
		{"a mounted volume", []string{"db"}, nil},
		{"a volume not mounted", []string{"logs"}, []string{"SnapshotVolumes[0]"}},
		{"a bind mount's source", []string{"/srv/conf"}, []string{"SnapshotVolumes[0]"}},
		{"twice", []string{"db", "db"}, []string{"SnapshotVolumes[1]"}},
		{"empty name", []string{""}, []string{"SnapshotVolumes[0]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p runtime.Problems
			validateSnapshotVolumes(&p, App{Name: "app", Container: runtime.ContainerSpec{Mounts: mounts}, SnapshotVolumes: tc.marked})
			var got []string
			for _, fe := range p {
				got = append(got, fe.Field)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckSpace(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name  string
		free  uint64
		sizes []int64
		ok    bool
	}{
		{"empty volume, room for the margin", SnapshotMargin, []int64{0}, true},
		{"empty volume, less than the margin", SnapshotMargin - 1, []int64{0}, false},
		{"100 MiB with 10% and the margin", 110*mib + SnapshotMargin, []int64{100 * mib}, true},
		{"100 MiB without the 10%", 100*mib + SnapshotMargin, []int64{100 * mib}, false},
		{"two volumes add up", 2*mib + mib/5 + SnapshotMargin, []int64{mib, mib}, true},
		{"a full disk", 0, []int64{1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkSpace(tc.free, tc.sizes)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrSnapshotSpace)) {
				t.Fatalf("checkSpace(%d, %v) = %v, want ok=%v", tc.free, tc.sizes, err, tc.ok)
			}
		})
	}
}

// TestCheckSpaceProperties: the check passes exactly when the free space covers the sizes'
// sum, a tenth more and the margin; more free space never turns a pass into a failure.
func TestCheckSpaceProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sizes := rapid.SliceOfN(rapid.Int64Range(0, 1<<40), 0, 8).Draw(t, "sizes")
		free := rapid.Uint64Range(0, 1<<44).Draw(t, "free")
		var sum int64
		for _, s := range sizes {
			sum += s
		}
		need := spaceNeeded(sizes)
		if need < sum+sum/10 || need < SnapshotMargin {
			t.Fatalf("need %d for sum %d", need, sum)
		}
		ok := checkSpace(free, sizes) == nil
		if ok != (free >= uint64(need)) {
			t.Fatalf("checkSpace(%d, %v) ok=%v, need %d", free, sizes, ok, need)
		}
		if ok && checkSpace(free+rapid.Uint64Range(0, 1<<40).Draw(t, "more"), sizes) != nil {
			t.Fatal("more free space failed the check")
		}
	})
}

func TestRestorable(t *testing.T) {
	prev := runtime.Observation{Name: "app.PREV", ID: "c1", Labels: map[string]string{runtime.LabelSpecHash: "h1"}}
	m := snapshotManifest{App: "app", PrevID: "c1", FromHash: "h1", ToHash: "h2", Volumes: []string{"db"}}
	for _, tc := range []struct {
		name   string
		change func(m *snapshotManifest, prev *runtime.Observation)
		want   bool
	}{
		{"taken from this PREV", func(*snapshotManifest, *runtime.Observation) {}, true},
		{"another app's", func(m *snapshotManifest, _ *runtime.Observation) { m.App = "other" }, false},
		{"another container's (an earlier upgrade, committed)", func(m *snapshotManifest, _ *runtime.Observation) { m.PrevID = "c0" }, false},
		{"PREV without an ID", func(m *snapshotManifest, p *runtime.Observation) { m.PrevID, p.ID = "", "" }, false},
		{"another release's hash", func(m *snapshotManifest, _ *runtime.Observation) { m.FromHash = "h0" }, false},
		{"no volumes", func(m *snapshotManifest, _ *runtime.Observation) { m.Volumes = nil }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, prev := m, prev
			tc.change(&m, &prev)
			if got := restorable(m, "app", prev); got != tc.want {
				t.Fatalf("restorable = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRestorableProperties: a snapshot is restored only over the very container it was taken
// from, of the same app and release: never over another container, whatever the hashes say.
func TestRestorableProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		id := rapid.SampledFrom([]string{"", "c1", "c2"})
		hash := rapid.SampledFrom([]string{"", "h1", "h2"})
		app := rapid.SampledFrom([]string{"app", "other"})
		m := snapshotManifest{App: app.Draw(t, "m.App"), PrevID: id.Draw(t, "m.PrevID"), FromHash: hash.Draw(t, "m.FromHash"),
			Volumes: rapid.SliceOfN(rapid.SampledFrom([]string{"db", "logs"}), 0, 2).Draw(t, "m.Volumes")}
		prev := runtime.Observation{ID: id.Draw(t, "prev.ID"), Labels: map[string]string{runtime.LabelSpecHash: hash.Draw(t, "prev.hash")}}
		name := app.Draw(t, "app")
		got := restorable(m, name, prev)
		want := m.App == name && prev.ID != "" && m.PrevID == prev.ID && m.FromHash == prev.SpecHash() && len(m.Volumes) > 0
		if got != want {
			t.Fatalf("restorable(%+v, %q, %+v) = %v", m, name, prev, got)
		}
		if got && (m.PrevID != prev.ID || prev.ID == "") {
			t.Fatal("restored over another container")
		}
	})
}
