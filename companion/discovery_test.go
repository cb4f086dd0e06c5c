package companion_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/quadlet"
	qfake "github.com/skerry-dev/skerry/quadlet/fake"
	"github.com/skerry-dev/skerry/runtime"
)

// restart returns a manager of a daemon restarted over e's directory and systemd.
func (e env) restart(t *testing.T, opts companion.Options) *companion.Manager {
	t.Helper()
	opts.Dir, opts.Logger = e.dir, quiet
	m, err := companion.New(e.units, e.images, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// brief is the part of a report a test compares.
type brief struct {
	App, Unit string
	Action    companion.Action
	Status    companion.Status
	Err       bool
}

func briefs(reps []companion.UnitReport) []brief {
	out := make([]brief, len(reps))
	for i, r := range reps {
		out[i] = brief{r.App, r.Unit, r.Action, r.Status, r.Err != nil}
	}
	return out
}

func installed(t *testing.T, e env, app string, specs ...companion.Spec) {
	t.Helper()
	if err := e.m.Register(app, specs...); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Install(context.Background(), app); err != nil {
		t.Fatal(err)
	}
}

func TestDroppedCompanionIsRemoved(t *testing.T) {
	e := setup(t, companion.Options{})
	ctx := context.Background()
	installed(t, e, "lnd", uiSpec("lnd-ui"), uiSpec("lnd-rest"))
	// The restarted daemon's config lists one companion only.
	m := e.restart(t, companion.Options{})
	m.Register("lnd", uiSpec("lnd-ui"))
	got := briefs(m.Reconcile(ctx))
	want := []brief{
		{"lnd", "lnd-rest.service", companion.ActionRemoved, companion.StatusRemoved, false},
		{"lnd", "lnd-ui.service", companion.ActionNone, companion.StatusActive, false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("reports (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"lnd-ui.container"}, files(t, e.dir)); diff != "" {
		t.Fatalf("files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"lnd-ui.service"}, e.units.Loaded()); diff != "" {
		t.Fatalf("loaded units (-want +got):\n%s", diff)
	}
	// An app registered with no companions keeps none.
	m.Register("lnd")
	if err := m.Install(ctx, "lnd"); err != nil {
		t.Fatal(err)
	}
	if len(e.units.Active()) != 0 || len(files(t, e.dir)) != 0 {
		t.Fatalf("active %v files %v", e.units.Active(), files(t, e.dir))
	}
}

func TestRemoveWithoutRegistration(t *testing.T) {
	e := setup(t, companion.Options{})
	installed(t, e, "lnd", uiSpec("lnd-ui"), uiSpec("lnd-rest"))
	installed(t, e, "bitcoind", uiSpec("bitcoind-ui"))
	// Uninstalled after a daemon restart, by a daemon whose config no longer has it.
	m := e.restart(t, companion.Options{})
	if err := m.Remove(context.Background(), "lnd"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"bitcoind-ui.service"}, e.units.Active()); diff != "" {
		t.Fatalf("active (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"bitcoind-ui.container"}, files(t, e.dir)); diff != "" {
		t.Fatalf("files (-want +got):\n%s", diff)
	}
	if err := m.Remove(context.Background(), "lnd"); err != nil {
		t.Fatalf("second remove: %v", err)
	}
}

func TestOrphansAreReportedAndLeftRunning(t *testing.T) {
	e := setup(t, companion.Options{})
	ctx := context.Background()
	installed(t, e, "lnd", uiSpec("lnd-ui"))
	installed(t, e, "bitcoind", uiSpec("bitcoind-ui"))
	before := files(t, e.dir)
	e.units.Journal()
	// A daemon started with an empty app list removes nothing.
	m := e.restart(t, companion.Options{})
	got := briefs(m.Reconcile(ctx))
	want := []brief{
		{"bitcoind", "bitcoind-ui.service", companion.ActionNone, companion.StatusOrphan, false},
		{"lnd", "lnd-ui.service", companion.ActionNone, companion.StatusOrphan, false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("reports (-want +got):\n%s", diff)
	}
	if calls := e.units.Journal(); len(calls) != 0 || !slices.Equal(files(t, e.dir), before) || len(e.units.Active()) != 2 {
		t.Fatalf("an empty app list acted: %v, files %v", calls, files(t, e.dir))
	}
	// Knowing bitcoind makes only lnd's companion an orphan; pruning removes it.
	m = e.restart(t, companion.Options{PruneOrphans: true})
	m.Register("bitcoind", uiSpec("bitcoind-ui"))
	got = briefs(m.Reconcile(ctx))
	want = []brief{
		{"bitcoind", "bitcoind-ui.service", companion.ActionNone, companion.StatusActive, false},
		{"lnd", "lnd-ui.service", companion.ActionRemoved, companion.StatusRemoved, false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("pruning (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"bitcoind-ui.service"}, e.units.Active()); diff != "" {
		t.Fatalf("active after pruning (-want +got):\n%s", diff)
	}
}

func TestUnitsSkerryDidNotWriteAreNeverTouched(t *testing.T) {
	e := setup(t, companion.Options{PruneOrphans: true})
	ctx := context.Background()
	foreign := map[string]string{
		"bitcoind-ui.container": "[Container]\nImage=docker.io/library/nginx\n[Service]\nRestart=always\n",
		"grafana.container":     "# skerry: companion-of is what this says, but not on its own line\n[Container]\nImage=grafana\n",
	}
	for name, data := range foreign {
		os.WriteFile(filepath.Join(e.dir, name), []byte(data), 0o644)
	}
	e.units.Reload(ctx)
	e.units.Start(ctx, "bitcoind-ui.service")
	e.units.Start(ctx, "grafana.service")
	e.units.Journal()

	e.m.Register("bitcoind", uiSpec("bitcoind-ui"), uiSpec("bitcoind-rpc"))
	if err := e.m.Install(ctx, "bitcoind"); !errors.Is(err, companion.ErrConflict) {
		t.Fatalf("install over a foreign unit file: %v", err)
	}
	got := briefs(e.m.Reconcile(ctx))
	want := []brief{
		{"bitcoind", "bitcoind-rpc.service", companion.ActionNone, companion.StatusActive, false},
		{"bitcoind", "bitcoind-ui.service", companion.ActionNone, companion.StatusConflict, true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("reports (-want +got):\n%s", diff)
	}
	if err := e.m.Remove(ctx, "bitcoind"); err != nil {
		t.Fatal(err)
	}
	for name, data := range foreign {
		if b, _ := os.ReadFile(filepath.Join(e.dir, name)); string(b) != data {
			t.Errorf("%s was touched:\n%s", name, b)
		}
	}
	if diff := cmp.Diff([]string{"bitcoind-ui.service", "grafana.service"}, e.units.Active()); diff != "" {
		t.Fatalf("foreign units (-want +got):\n%s", diff)
	}
	for _, call := range e.units.Journal() {
		if call == "stop bitcoind-ui.service" || call == "stop grafana.service" || call == "restart bitcoind-ui.service" {
			t.Errorf("a foreign unit was acted on: %s", call)
		}
	}
}

func TestCompanionMovedToAnotherApp(t *testing.T) {
	e := setup(t, companion.Options{})
	ctx := context.Background()
	installed(t, e, "lnd", uiSpec("node-ui"))
	m := e.restart(t, companion.Options{})
	m.Register("lnd")
	m.Register("bitcoind", uiSpec("node-ui"))
	got := briefs(m.Reconcile(ctx))
	if diff := cmp.Diff([]brief{{"bitcoind", "node-ui.service", companion.ActionRestarted, companion.StatusActive, false}}, got); diff != "" {
		t.Fatalf("reports (-want +got):\n%s", diff)
	}
	if err := m.Install(ctx, "lnd"); err != nil || len(e.units.Active()) != 1 {
		t.Fatalf("lnd's install removed bitcoind's companion: %v %v", err, e.units.Active())
	}
}

func TestReportsNameEachState(t *testing.T) {
	e := setup(t, companion.Options{})
	ctx := context.Background()
	installed(t, e, "a", uiSpec("a-ui"))
	installed(t, e, "b", uiSpec("b-ui"))
	installed(t, e, "c", uiSpec("c-ui"))
	e.units.CrashLoop("b-ui.service")
	e.units.Fail("c-ui.service")
	e.units.FailNext("start", errors.New("start limit hit"))
	m := e.restart(t, companion.Options{})
	m.Register("a", uiSpec("a-ui"))
	m.Register("b", uiSpec("b-ui"))
	m.Register("c", uiSpec("c-ui"))
	os.WriteFile(filepath.Join(e.dir, "d-ui.container"), []byte("# skerry: companion-of=d\n[Container]\nImage=x\n"), 0o644)
	reps := m.Reconcile(ctx)
	got := briefs(reps)
	want := []brief{
		{"a", "a-ui.service", companion.ActionNone, companion.StatusActive, false},
		{"b", "b-ui.service", companion.ActionNone, companion.StatusRestarting, false},
		{"c", "c-ui.service", companion.ActionStarted, companion.StatusFailed, true},
		{"d", "d-ui.service", companion.ActionNone, companion.StatusOrphan, false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("reports (-want +got):\n%s", diff)
	}
	wantB := quadlet.UnitState{Name: "b-ui.service", LoadState: "loaded", ActiveState: "activating", SubState: "auto-restart", NRestarts: 1}
	if diff := cmp.Diff(wantB, reps[1].State, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("restarting unit's state (-want +got):\n%s", diff)
	}
}

func TestStrayTemporaryFilesAreRemoved(t *testing.T) {
	e := setup(t, companion.Options{})
	installed(t, e, "lnd", uiSpec("lnd-ui"))
	os.WriteFile(filepath.Join(e.dir, ".lnd-ui.container.tmp-4242"), []byte("# skerry: compan"), 0o644)
	os.WriteFile(filepath.Join(e.dir, ".notes.txt"), []byte("mine"), 0o644)
	e.m.Reconcile(context.Background())
	if diff := cmp.Diff([]string{".notes.txt", "lnd-ui.container"}, files(t, e.dir)); diff != "" {
		t.Fatalf("files (-want +got):\n%s", diff)
	}
}

func TestRestartSidecarOfAStoppedUnitIsClearedByItsStart(t *testing.T) {
	e := setup(t, companion.Options{})
	installed(t, e, "lnd", uiSpec("lnd-ui"))
	// A daemon died between its restart sidecar and the restart; the unit was stopped since.
	os.WriteFile(filepath.Join(e.dir, "lnd-ui.container.skerry-restart"), []byte("# skerry: companion-of=lnd\n"), 0o644)
	e.units.StopExternally("lnd-ui.service")
	reps := briefs(e.restart(t, companion.Options{}).Reconcile(context.Background()))
	if diff := cmp.Diff([]brief{{"lnd", "lnd-ui.service", companion.ActionNone, companion.StatusOrphan, false}}, reps); diff != "" {
		t.Fatalf("unregistered (-want +got):\n%s", diff)
	}
	m := e.restart(t, companion.Options{})
	m.Register("lnd", uiSpec("lnd-ui"))
	reps = briefs(m.Reconcile(context.Background()))
	if diff := cmp.Diff([]brief{{"lnd", "lnd-ui.service", companion.ActionStarted, companion.StatusActive, false}}, reps); diff != "" {
		t.Fatalf("reports (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"lnd-ui.container"}, files(t, e.dir)); diff != "" {
		t.Fatalf("files (-want +got):\n%s", diff)
	}
}

func TestRemoveRefusesAnInvalidAppName(t *testing.T) {
	e := setup(t, companion.Options{})
	installed(t, e, "lnd", uiSpec("lnd-ui"))
	for _, app := range []string{"", "../lnd", "LND"} {
		if err := e.m.Remove(context.Background(), app); !errors.Is(err, runtime.ErrInvalidSpec) {
			t.Errorf("Remove(%q) = %v", app, err)
		}
	}
	if len(e.units.Active()) != 1 {
		t.Fatal("an invalid removal acted")
	}
}

func TestUnreadableStateIsReportedAndNothingActs(t *testing.T) {
	e := setup(t, companion.Options{})
	installed(t, e, "lnd", uiSpec("lnd-ui"))
	e.units.StopExternally("lnd-ui.service")
	e.units.FailNext("unit", errors.New("bus gone"))
	e.units.Journal()
	reps := e.m.Reconcile(context.Background())
	if len(reps) != 1 || reps[0].Err == nil || reps[0].Action != companion.ActionNone || len(e.units.Journal()) != 0 {
		t.Fatalf("reports %+v", reps)
	}
}

func TestFreshNodeWithoutUnitDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".config", "containers", "systemd")
	e := setup(t, companion.Options{})
	m, _ := companion.New(qfake.New(dir), e.images, companion.Options{Dir: dir, Logger: quiet})
	if reps := m.Reconcile(context.Background()); len(reps) != 0 {
		t.Fatalf("a missing directory: %+v", reps)
	}
	m.Register("lnd", uiSpec("lnd-ui"))
	if err := m.Install(context.Background(), "lnd"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"lnd-ui.container"}, files(t, dir)); diff != "" {
		t.Fatalf("files (-want +got):\n%s", diff)
	}
}

// A node upgraded from a skerry that wrote no marker keeps its companions: recognized by the
// old header and label, rewritten with the marker when registered, orphans otherwise.
func TestUnitFilesFromBeforeTheMarker(t *testing.T) {
	e := setup(t, companion.Options{})
	ctx := context.Background()
	installed(t, e, "lnd", uiSpec("lnd-ui"))
	installed(t, e, "bitcoind", uiSpec("bitcoind-ui"))
	for _, name := range []string{"lnd-ui", "bitcoind-ui"} {
		path := filepath.Join(e.dir, name+".container")
		data, _ := os.ReadFile(path)
		_, old, _ := strings.Cut(string(data), "\n") // the file as the older skerry wrote it
		os.WriteFile(path, []byte(old), 0o644)
	}
	e.units.Reload(ctx)
	m := e.restart(t, companion.Options{})
	m.Register("lnd", uiSpec("lnd-ui"))
	got := briefs(m.Reconcile(ctx))
	want := []brief{
		{"bitcoind", "bitcoind-ui.service", companion.ActionNone, companion.StatusOrphan, false},
		{"lnd", "lnd-ui.service", companion.ActionRestarted, companion.StatusActive, false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("reports (-want +got):\n%s", diff)
	}
	if data, _ := os.ReadFile(filepath.Join(e.dir, "lnd-ui.container")); !strings.HasPrefix(string(data), "# skerry: companion-of=lnd\n") {
		t.Fatalf("not rewritten with the marker:\n%s", data)
	}
}
