package companion_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/quadlet"
	qfake "github.com/skerry-dev/skerry/quadlet/fake"
	"github.com/skerry-dev/skerry/runtime"
	rfake "github.com/skerry-dev/skerry/runtime/fake"
)

var (
	_ orchestrator.Companions = (*companion.Manager)(nil)
	_ companion.Units         = (*qfake.Manager)(nil)
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const uiImage = "localhost/btc-ui:1"

func uiSpec(name string) companion.Spec {
	return companion.Spec{
		Name:    name,
		Image:   uiImage,
		Command: []string{"httpd", "-f", "-p", "3002"},
		Env:     map[string]string{"RPC_PASSWORD": "hunter2"},
		Ports:   []runtime.Port{{HostIP: "127.0.0.1", HostPort: 3002, ContainerPort: 3002}},
		Mounts:  []runtime.Mount{{Type: runtime.MountBind, Source: "/srv/skerry/nginx.conf", Target: "/etc/nginx.conf", ReadOnly: true}},
		CapDrop: []string{"ALL"},
		Health:  health.Check{Exec: []string{"wget", "-q", "http://127.0.0.1:3002/"}},
	}
}

type env struct {
	dir    string
	units  *qfake.Manager
	images *rfake.Runtime
	m      *companion.Manager
}

func setup(t *testing.T, opts companion.Options) env {
	t.Helper()
	dir := t.TempDir()
	e := env{dir: dir, units: qfake.New(dir), images: rfake.New()}
	e.images.AddImage(uiImage)
	opts.Dir, opts.Logger = dir, quiet
	m, err := companion.New(e.units, e.images, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	return e
}

func TestInstallIsIdempotent(t *testing.T) {
	e := setup(t, companion.Options{})
	ctx := context.Background()
	if err := e.m.Register("bitcoind", uiSpec("bitcoind-ui"), uiSpec("bitcoind-rpc-explorer")); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Install(ctx, "bitcoind"); err != nil {
		t.Fatal(err)
	}
	if got := e.units.Active(); !slices.Equal(got, []string{"bitcoind-rpc-explorer.service", "bitcoind-ui.service"}) {
		t.Fatalf("active %v", got)
	}
	if e.units.Calls("reload") != 1 || e.units.Calls("start") != 2 {
		t.Fatalf("reloads %d starts %d, want 1 and 2", e.units.Calls("reload"), e.units.Calls("start"))
	}
	if err := e.m.Install(ctx, "bitcoind"); err != nil {
		t.Fatal(err)
	}
	if e.units.Calls("reload") != 1 || e.units.Calls("start") != 2 || e.units.Calls("restart") != 0 {
		t.Fatalf("second install acted: reloads %d starts %d restarts %d", e.units.Calls("reload"), e.units.Calls("start"), e.units.Calls("restart"))
	}
	data, err := os.ReadFile(filepath.Join(e.dir, "bitcoind-ui.container"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(e.dir, "bitcoind-ui.container")); err != nil {
		t.Fatal(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("unit file mode %v, want 0600: only its user's systemd reads it", fi.Mode())
	}
	for _, want := range []string{"Restart=always\n", "RestartSec=10\n", "TimeoutStopSec=25\n", "WantedBy=default.target\n", "Notify=healthy\n",
		"PublishPort=127.0.0.1:3002:3002\n", "Volume=/srv/skerry/nginx.conf:/etc/nginx.conf:ro\n", `Label="io.skerry.companion-of=bitcoind"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("unit file lacks %q:\n%s", want, data)
		}
	}
	if !strings.HasPrefix(string(data), "# skerry: companion-of=bitcoind\n") {
		t.Errorf("unit file does not open with the ownership marker:\n%s", data)
	}
	if strings.Contains(string(data), runtime.LabelManaged) {
		t.Error("a companion carries the orchestrator's managed label: it would be reported as an orphan")
	}
}

func TestChangedSpecRestartsRunningCompanion(t *testing.T) {
	e := setup(t, companion.Options{})
	ctx := context.Background()
	e.m.Register("lnd", uiSpec("lnd-ui"))
	e.m.Install(ctx, "lnd")
	s := uiSpec("lnd-ui")
	s.Env = map[string]string{"RPC_PASSWORD": "rotated"}
	e.m.Register("lnd", s)
	if err := e.m.Install(ctx, "lnd"); err != nil {
		t.Fatal(err)
	}
	if e.units.Calls("restart") != 1 || e.units.Calls("reload") != 2 {
		t.Fatalf("restarts %d reloads %d", e.units.Calls("restart"), e.units.Calls("reload"))
	}
}

func TestRegisterValidatesWithoutSideEffects(t *testing.T) {
	e := setup(t, companion.Options{})
	bad := uiSpec("Bad/Name")
	bad.Env = map[string]string{"PASS": "hunter2\n[Service]"}
	httpCheck := uiSpec("ui2")
	httpCheck.Health = health.Check{HTTP: &health.HTTPGet{URL: "http://127.0.0.1:3002/"}}
	err := e.m.Register("app", bad, httpCheck, uiSpec("ui2"))
	var verr *runtime.ValidationError
	if !errors.As(err, &verr) || !errors.Is(err, runtime.ErrInvalidSpec) || len(verr.Problems) < 4 {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatal("error leaks a secret")
	}
	if err := e.m.Install(context.Background(), "app"); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(e.dir); len(entries) != 0 || e.units.Calls("reload") != 0 {
		t.Fatal("an invalid registration had side effects")
	}
}

func TestRemoveStopsBeforeDeletingFiles(t *testing.T) {
	e := setup(t, companion.Options{})
	ctx := context.Background()
	e.m.Register("electrs", uiSpec("electrs-ui"))
	e.m.Install(ctx, "electrs")
	if err := e.m.Remove(ctx, "electrs"); err != nil {
		t.Fatal(err)
	}
	if len(e.units.Active()) != 0 {
		t.Fatalf("still active: %v", e.units.Active())
	}
	// Restart=always must not bring it back, and the unit is gone after the reload.
	e.units.Kill("electrs-ui.service")
	if st := e.units.State("electrs-ui.service"); st.Active() || st.Loaded() {
		t.Fatalf("after remove: %+v", st)
	}
	if entries, _ := os.ReadDir(e.dir); len(entries) != 0 {
		t.Fatal("unit file left behind")
	}
	if reps := e.m.Reconcile(ctx); len(reps) != 0 {
		t.Fatalf("removed companions came back in reconcile: %v", reps)
	}
	// A failing stop keeps the tombstone, so the next pass finishes the removal, although
	// nothing is registered any more.
	e.m.Register("electrs", uiSpec("electrs-ui"))
	e.m.Install(ctx, "electrs")
	e.units.FailNext("stop", errors.New("bus gone"))
	if err := e.m.Remove(ctx, "electrs"); err == nil {
		t.Fatal("injected stop failure not reported")
	}
	if _, err := os.Stat(filepath.Join(e.dir, "electrs-ui.container.skerry-removed")); err != nil {
		t.Fatal("tombstone deleted although the stop failed")
	}
	if !e.units.State("electrs-ui.service").Active() {
		t.Fatal("the failed stop stopped the unit")
	}
	fresh, _ := companion.New(e.units, e.images, companion.Options{Dir: e.dir, Logger: quiet})
	reps := fresh.Reconcile(ctx)
	if len(reps) != 1 || reps[0].Action != companion.ActionRemoved || reps[0].Status != companion.StatusRemoved || reps[0].Err != nil {
		t.Fatalf("next pass: %+v", reps)
	}
	if entries, _ := os.ReadDir(e.dir); len(entries) != 0 || len(e.units.Active()) != 0 || len(e.units.Loaded()) != 0 {
		t.Fatalf("after the next pass: files %v active %v loaded %v", entries, e.units.Active(), e.units.Loaded())
	}
}

func TestReconcileRepairsFilesAndServices(t *testing.T) {
	e := setup(t, companion.Options{})
	ctx := context.Background()
	e.m.Register("bitcoind", uiSpec("bitcoind-ui"))
	e.m.Register("lnd", uiSpec("lnd-ui"))
	e.m.Register("mempool", uiSpec("mempool-ui"))
	for _, a := range []string{"bitcoind", "lnd", "mempool"} {
		if err := e.m.Install(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	reps := e.m.Reconcile(ctx)
	for _, r := range reps {
		if r.Action != "none" || r.Rewritten || r.Err != nil {
			t.Fatalf("no-op reconcile acted: %+v", r)
		}
	}
	reloads := e.units.Calls("reload")
	os.Remove(filepath.Join(e.dir, "bitcoind-ui.container")) // deleted by hand
	e.units.StopExternally("lnd-ui.service")                 // stopped by hand
	// Edited by hand, the first line (skerry's ownership marker) kept.
	os.WriteFile(filepath.Join(e.dir, "mempool-ui.container"), []byte("# skerry: companion-of=mempool\n[Container]\nImage=evil\n"), 0o644)
	reps = e.m.Reconcile(ctx)
	got := map[string]companion.UnitReport{}
	for _, r := range reps {
		got[r.Unit] = r
	}
	// What a running unit whose file vanished runs cannot be known: restarted onto the file.
	if r := got["bitcoind-ui.service"]; !r.Rewritten || r.Action != "restarted" || r.Err != nil {
		t.Errorf("deleted file: %+v", r)
	}
	if r := got["lnd-ui.service"]; r.Rewritten || r.Action != "started" || r.Err != nil {
		t.Errorf("stopped service: %+v", r)
	}
	if r := got["mempool-ui.service"]; !r.Rewritten || r.Action != "restarted" || r.Err != nil {
		t.Errorf("tampered file: %+v", r)
	}
	if e.units.Calls("reload") != reloads+1 {
		t.Errorf("reloads: %d, want one more", e.units.Calls("reload")-reloads)
	}
	if len(e.units.Active()) != 3 {
		t.Fatalf("active %v", e.units.Active())
	}
	data, _ := os.ReadFile(filepath.Join(e.dir, "mempool-ui.container"))
	if strings.Contains(string(data), "evil") {
		t.Fatal("tampered file not rewritten")
	}
}

func TestRestartAlwaysSurvivesKills(t *testing.T) {
	e := setup(t, companion.Options{})
	ctx := context.Background()
	e.m.Register("app", uiSpec("app-ui"))
	e.m.Install(ctx, "app")
	for range 3 {
		e.units.Kill("app-ui.service")
	}
	if st := e.units.State("app-ui.service"); !st.Active() || e.units.NRestarts("app-ui.service") != 3 {
		t.Fatalf("%+v restarts %d", st, e.units.NRestarts("app-ui.service"))
	}
}

func TestVersionGatingOfCompanionUnits(t *testing.T) {
	e := setup(t, companion.Options{Target: quadlet.Latest})
	if err := e.m.Register("app", uiSpec("ui")); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Install(context.Background(), "app"); err != nil {
		t.Fatal(err)
	}
}

func TestFailedCompanionUpgradeRestoresPreviousUnit(t *testing.T) {
	e := setup(t, companion.Options{})
	ctx := context.Background()
	e.m.Register("lnd", uiSpec("lnd-ui"))
	if err := e.m.Install(ctx, "lnd"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.dir, "lnd-ui.container")
	good, _ := os.ReadFile(path)
	broken := uiSpec("lnd-ui")
	broken.Image = "localhost/btc-ui:2"
	e.images.AddImage(broken.Image)
	e.m.Register("lnd", broken)
	e.units.FailNext("restart", errors.New("job failed"))
	err := e.m.Install(ctx, "lnd")
	if !errors.Is(err, companion.ErrRolledBack) || !errors.Is(err, runtime.ErrRolledBack) {
		t.Fatalf("err = %v, want ErrRolledBack", err)
	}
	if now, _ := os.ReadFile(path); string(now) != string(good) {
		t.Fatalf("unit file not restored:\n%s", now)
	}
	if st := e.units.State("lnd-ui.service"); !st.Active() {
		t.Fatalf("restored companion not active: %+v", st)
	}
	// The failed spec is abandoned: a reconcile pass keeps the restored file.
	for _, r := range e.m.Reconcile(ctx) {
		if r.Rewritten || r.Err != nil {
			t.Fatalf("reconcile after rollback: %+v", r)
		}
	}
}

func TestFakeUnitReportsReloadAndRestarts(t *testing.T) {
	e := setup(t, companion.Options{})
	ctx := context.Background()
	e.m.Register("app", uiSpec("app-ui"))
	e.m.Install(ctx, "app")
	e.units.Kill("app-ui.service")
	if u, _ := e.units.Unit(ctx, "app-ui.service"); u.NRestarts != 1 || u.NeedDaemonReload || !u.Active() {
		t.Fatalf("%+v", u)
	}
	os.WriteFile(filepath.Join(e.dir, "app-ui.container"), []byte("changed"), 0o644)
	if u, _ := e.units.Unit(ctx, "app-ui.service"); !u.NeedDaemonReload {
		t.Fatalf("changed file: %+v", u)
	}
}

func TestWatchUnitsFollowsRegistrations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := setup(t, companion.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		watching := make(chan struct{})
		go func() { e.m.WatchUnits(ctx, e.units.UnitChanges); close(watching) }()
		synctest.Wait()
		// Registered after the watch began: its unit must be watched from now on.
		e.m.Register("electrs", uiSpec("electrs-ui"))
		if err := e.m.Install(ctx, "electrs"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		starts := e.units.Calls("start")
		e.units.StopExternally("electrs-ui.service")
		time.Sleep(time.Second) // no periodic Reconcile runs in this test
		synctest.Wait()
		if st := e.units.State("electrs-ui.service"); !st.Active() || e.units.Calls("start") != starts+1 {
			t.Fatalf("after a stop by hand: %+v, starts %d", st, e.units.Calls("start")-starts)
		}
		// Removed: stopping it is none of the watch's business any more.
		if err := e.m.Remove(ctx, "electrs"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		starts = e.units.Calls("start")
		e.units.StopExternally("electrs-ui.service")
		time.Sleep(time.Second)
		synctest.Wait()
		if e.units.Calls("start") != starts {
			t.Fatal("started a removed companion")
		}
		cancel()
		<-watching
	})
}

func TestUnitChangesTriggerOneUnitPasses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := setup(t, companion.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		e.m.Register("bitcoind", uiSpec("bitcoind-ui"))
		e.m.Register("lnd", uiSpec("lnd-ui"))
		e.m.Install(ctx, "bitcoind")
		e.m.Install(ctx, "lnd")
		watching := make(chan struct{})
		go func() { e.m.WatchUnits(ctx, e.units.UnitChanges); close(watching) }()
		synctest.Wait()
		starts := e.units.Calls("start")

		// `systemctl --user stop lnd-ui` by hand: while the stop is in flight skerry must not
		// start the unit (its start job would cancel the stop job); once stopped, it must.
		e.units.Deactivate("lnd-ui.service")
		time.Sleep(time.Second)
		synctest.Wait()
		if e.units.Calls("start") != starts {
			t.Fatal("started a unit in the middle of its stop")
		}
		e.units.StopExternally("lnd-ui.service")
		time.Sleep(time.Second) // no periodic Reconcile runs in this test
		synctest.Wait()
		if st := e.units.State("lnd-ui.service"); !st.Active() || e.units.Calls("start") != starts+1 {
			t.Fatalf("after the stop: %+v, starts %d", st, e.units.Calls("start")-starts)
		}
		cancel()
		<-watching
	})
}
