package orchestrator_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/skerry-dev/skerry/hooks"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

// The model-based test: random sequences of installs, uninstalls, hook changes, tampering and
// injected faults interleaved with passes, checked against a plain-data model after every step.
//
// Default runs are quick (rapid's 100 sequences). A long run:
//
//	go test ./orchestrator -run TestModel -rapid.checks=10000
func TestModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rapid.SyncTest(t, func(t *rapid.T) {
			m := newModel(rapid.Bool().Draw(t, "scheduleExecChecks"))
			t.Repeat(map[string]func(*rapid.T){
				"install":      m.install,
				"installTwice": m.installTwice,
				"upgrade":      m.upgrade,
				"uninstall":    m.uninstall,
				"hookChange":   m.hookChange,
				"tamper":       m.tamper,
				"fault":        m.fault,
				"failCall":     m.failCall,
				"pass":         m.pass,
				"converge":     m.converge,
				"checks":       m.checks,
				"restart":      m.restart,
				"interrupted":  m.interruptedUpgrade,
				"":             m.invariants,
			})
		})
	})
}

var modelApps = []string{"bitcoind", "lnd", "electrs", "mempool"}

// passTimeout bounds every operation, as the reconciler's pass deadline does in production.
const passTimeout = 10 * time.Minute

type model struct {
	rt *fake.Runtime
	o  *orchestrator.Orchestrator
	// desired: the apps the model wants installed (set by Install, cleared by Uninstall, whether
	// or not the call succeeded: a failed call is retried by later passes).
	desired map[string]bool
	// hookPending: the app's hook will report a change on its next run. Hooks run in the
	// orchestrator's workers, so it is guarded by hookMu.
	hookMu      sync.Mutex
	hookPending map[string]bool
	// purged: the app's last uninstall asked for purge, so its volume may go.
	purged map[string]bool
	// doomed: the app had a "dies after start" fault since the last convergence.
	doomed map[string]bool
	// faulty: faults were injected since the last convergence.
	faulty bool
	// volumes ever seen.
	volumes map[string]bool
	// image is each app's desired image (absent: the default image).
	image map[string]string
	// scheduled: Options.ScheduleExecChecks; the "checks" step stands in for the schedule.
	scheduled bool
	// held: the app's last upgrade was rolled back and the orchestrator still desires the
	// failed release (failed[name]): it is held on image[name], with its <app>.FAILED record.
	held   map[string]bool
	failed map[string]string
}

const imageV2 = "localhost/busybox:v2"

func newModel(scheduled bool) *model {
	m := &model{rt: fake.New(), desired: map[string]bool{}, hookPending: map[string]bool{},
		purged: map[string]bool{}, doomed: map[string]bool{}, volumes: map[string]bool{}, image: map[string]string{},
		scheduled: scheduled, held: map[string]bool{}, failed: map[string]string{}}
	m.rt.AddImage(image, imageV2)
	m.rt.MakePullable(image, imageV2) // from a registry: pulled again once pruned
	m.o = orchestrator.New(m.rt, orchestrator.Options{Logger: quiet, ScheduleExecChecks: scheduled})
	return m
}

// specHash is the spec hash the orchestrator gives name's container.
func (m *model) specHash(name string) string {
	return orchestrator.SpecOf(m.o, m.app(name)).Labels[runtime.LabelSpecHash]
}

// checks runs every running container's check, as the schedule of ScheduleExecChecks does
// between passes; with the engine's timers the fake records results at once already.
func (m *model) checks(t *rapid.T) {
	if !m.scheduled {
		t.Skip("the engine runs the checks")
	}
	for _, name := range modelApps {
		m.rt.RunHealthCheck(context.Background(), name)
	}
}

func (m *model) app(name string) orchestrator.App {
	a := newApp(name)
	if img := m.image[name]; img != "" {
		a.Container.Image = img
	}
	a.ReadyTimeout = time.Minute
	a.Hooks = []hooks.Hook{hooks.Func(func(context.Context) (bool, error) {
		m.hookMu.Lock()
		defer m.hookMu.Unlock()
		changed := m.hookPending[name]
		m.hookPending[name] = false
		return changed, nil
	})}
	return a
}

func ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), passTimeout)
}

func (m *model) install(t *rapid.T) {
	name := rapid.SampledFrom(modelApps).Draw(t, "app")
	c, cancel := ctx()
	defer cancel()
	_, err := m.o.Install(c, m.app(name))
	m.desired[name], m.purged[name], m.held[name] = true, false, false
	if err == nil {
		m.mustBeUp(t, name)
	} else if !m.faulty {
		t.Fatalf("install %s failed without faults: %v", name, err)
	}
}

// installTwice: without faults, a second Install of an installed app changes nothing.
func (m *model) installTwice(t *rapid.T) {
	if m.faulty {
		t.Skip("faults active")
	}
	name := rapid.SampledFrom(modelApps).Draw(t, "app")
	c, cancel := ctx()
	defer cancel()
	if _, err := m.o.Install(c, m.app(name)); err != nil {
		t.Fatalf("install %s: %v", name, err)
	}
	m.desired[name], m.purged[name], m.held[name] = true, false, false
	_, first, _ := m.rt.Container(name)
	calls := m.rt.TotalCalls()
	rep, err := m.o.Install(c, m.app(name))
	_, second, _ := m.rt.Container(name)
	if err != nil || rep.Action != orchestrator.ActionNone || second.ID != first.ID || !second.StartedAt.Equal(first.StartedAt) {
		t.Fatalf("second install of %s: %v %v; container %s -> %s", name, rep, err, first.ID, second.ID)
	}
	// An explicit Install resolves the app's tag afresh (a moved tag is an upgrade).
	if got, ids := m.rt.TotalCalls()-calls, m.rt.Calls(fake.OpImageID); got != 2 || ids == 0 {
		t.Fatalf("second install made %d runtime calls, want 2 (inspect, image-id)", got)
	}
}

// upgrade changes an installed app's image, sometimes to a release that dies after start: a
// good upgrade must end on the new spec, a failed one back on the last good spec.
func (m *model) upgrade(t *rapid.T) {
	if m.faulty {
		t.Skip("faults active")
	}
	name := rapid.SampledFrom(modelApps).Draw(t, "app")
	c, cancel := ctx()
	defer cancel()
	if _, err := m.o.Install(c, m.app(name)); err != nil { // proven on its current spec first
		t.Fatalf("install %s: %v", name, err)
	}
	m.desired[name], m.purged[name], m.held[name] = true, false, false
	old := m.app(name).Container.Image
	next := imageV2
	if old == imageV2 {
		next = image
	}
	broken := rapid.Bool().Draw(t, "broken")
	if broken {
		m.rt.SetImageBehaviour(next, fake.Behaviour{DieAfter: 500 * time.Millisecond})
		defer m.rt.SetImageBehaviour(next, fake.Behaviour{})
	}
	m.image[name] = next
	_, err := m.o.Install(c, m.app(name))
	switch {
	case broken && !errors.Is(err, orchestrator.ErrRolledBack):
		t.Fatalf("broken upgrade of %s: %v, want ErrRolledBack", name, err)
	case broken:
		m.image[name], m.held[name], m.failed[name] = old, true, next
		if r, ok := m.o.Held(name); !ok || r.FailedImage != next || r.Image != old {
			t.Fatalf("after the rollback of %s: held=%v %+v", name, ok, r)
		}
	case err != nil:
		t.Fatalf("upgrade of %s: %v", name, err)
	}
	m.mustBeUp(t, name)
}

func (m *model) uninstall(t *rapid.T) {
	name := rapid.SampledFrom(modelApps).Draw(t, "app")
	purge := rapid.Bool().Draw(t, "purge")
	c, cancel := ctx()
	defer cancel()
	_, err := m.o.Uninstall(c, name, orchestrator.UninstallOptions{Purge: purge})
	m.desired[name], m.purged[name], m.held[name] = false, purge, false
	if err == nil {
		for _, c := range []string{name, name + ".PREV", name + ".FAILED"} {
			if _, _, exists := m.rt.Container(c); exists {
				t.Fatalf("uninstall %s succeeded but container %s exists", name, c)
			}
		}
	} else if !m.faulty {
		t.Fatalf("uninstall %s failed without faults: %v", name, err)
	}
}

func (m *model) hookChange(t *rapid.T) {
	name := rapid.SampledFrom(modelApps).Draw(t, "app")
	m.hookMu.Lock()
	defer m.hookMu.Unlock()
	m.hookPending[name] = true
}

func (m *model) hookIsPending(name string) bool {
	m.hookMu.Lock()
	defer m.hookMu.Unlock()
	return m.hookPending[name]
}

func (m *model) tamper(t *rapid.T) {
	name := rapid.SampledFrom(modelApps).Draw(t, "app")
	switch rapid.IntRange(0, 4).Draw(t, "how") {
	case 0:
		m.rt.KillExternally(name)
	case 1:
		m.rt.RemoveExternally(name)
	case 2:
		m.rt.PauseExternally(name)
	case 3:
		m.rt.SetHealth(name, runtime.HealthUnhealthy)
	case 4:
		m.rt.SetState(name, rapid.SampledFrom([]runtime.State{runtime.StateUnknown, runtime.StateRemoving, runtime.StateStopping, runtime.StateCreated}).Draw(t, "state"))
	}
}

func (m *model) fault(t *rapid.T) {
	name := rapid.SampledFrom(modelApps).Draw(t, "app")
	var b fake.Behaviour
	switch rapid.IntRange(0, 2).Draw(t, "kind") {
	case 0:
		b.DieAfter = rapid.SampledFrom([]time.Duration{500 * time.Millisecond, 5 * time.Second, time.Minute}).Draw(t, "dieAfter")
		m.doomed[name] = true
	case 1:
		b.Unhealthy = true
	case 2:
		b.StuckCreated = true
	}
	m.rt.SetBehaviour(name, b)
	m.faulty = true
}

func (m *model) failCall(t *rapid.T) {
	op := rapid.SampledFrom([]fake.Op{fake.OpList, fake.OpInspect, fake.OpCreate, fake.OpStart, fake.OpStop, fake.OpRemove}).Draw(t, "op")
	if rapid.IntRange(0, 4).Draw(t, "hang") == 0 {
		m.rt.Hang(op, true)
	} else {
		m.rt.FailNth(op, rapid.IntRange(1, 3).Draw(t, "nth"), errors.New("injected"))
	}
	m.faulty = true
}

// pass runs ReconcileAll and checks that no running, healthy, current container was touched
// (unless its hook reported a change or it was doomed to die).
func (m *model) pass(t *rapid.T) {
	untouchable := map[string]runtime.Observation{}
	for _, name := range modelApps {
		spec, obs, ok := m.rt.Container(name)
		if ok && m.desired[name] && !m.hookIsPending(name) && !m.doomed[name] &&
			obs.State == runtime.StateRunning && obs.Health == runtime.HealthHealthy &&
			spec.Labels[runtime.LabelSpecHash] == m.specHash(name) {
			untouchable[name] = obs
		}
	}
	c, cancel := ctx()
	defer cancel()
	rep := m.o.ReconcileAll(c)
	for name, before := range untouchable {
		_, after, _ := m.rt.Container(name)
		if after.ID != before.ID || !after.StartedAt.Equal(before.StartedAt) {
			t.Fatalf("pass touched healthy current %s (%s -> %s): %v", name, before.ID, after.ID, rep)
		}
	}
}

// converge: once faults stop, at most two passes bring every desired app up and every
// undesired one down. Passes run after any backoff has expired (the sleep), as the periodic
// reconciler would run them.
func (m *model) converge(t *rapid.T) {
	m.rt.ClearFaults()
	m.faulty = false
	var rep orchestrator.Report
	for range 2 {
		time.Sleep(orchestrator.BackoffMax + time.Second)
		c, cancel := ctx()
		rep = m.o.ReconcileAll(c)
		cancel()
	}
	clear(m.doomed)
	for _, name := range modelApps {
		if m.desired[name] {
			m.mustBeUp(t, name)
		} else if _, _, ok := m.rt.Container(name); ok {
			t.Fatalf("undesired %s still exists after 2 passes: %v", name, rep)
		}
		// No upgrade is in flight; a FAILED record exactly while the app is held.
		if _, _, ok := m.rt.Container(name + ".PREV"); ok {
			t.Fatalf("release record %s.PREV left after 2 passes: %v", name, rep)
		}
		if _, _, ok := m.rt.Container(name + ".FAILED"); ok != (m.held[name] && m.desired[name]) {
			t.Fatalf("release record %s.FAILED exists=%v, held=%v: %v", name, ok, m.held[name], rep)
		}
	}
	if !rep.Converged() {
		t.Fatalf("second pass after faults stopped did not converge: %v", rep)
	}
	if got := slices.Sorted(maps.Keys(m.desired)); len(m.o.Apps()) > len(got) {
		t.Fatalf("orchestrator wants %v, model %v", m.o.Apps(), m.desired)
	}
}

func (m *model) mustBeUp(t *rapid.T, name string) {
	spec, obs, ok := m.rt.Container(name)
	want := m.specHash(name)
	if !ok || obs.State != runtime.StateRunning || obs.Health != runtime.HealthHealthy || spec.Labels[runtime.LabelSpecHash] != want {
		t.Fatalf("%s is %v/%v (exists=%v), want running/healthy on the current spec; engine: %s", name, obs.State, obs.Health, ok, m.rt)
	}
}

// invariants hold after every step.
func (m *model) invariants(t *rapid.T) {
	// One container per app, plus at most its release records (<app>.PREV while an upgrade is
	// in flight, <app>.FAILED while it is held), which never run.
	perApp := map[string]int{}
	for _, name := range m.rt.Names() {
		_, obs, _ := m.rt.Container(name)
		switch name {
		case obs.App():
			perApp[obs.App()]++
		case obs.App() + ".PREV", obs.App() + ".FAILED":
			if obs.State == runtime.StateRunning {
				t.Fatalf("release record %s runs", name)
			}
		default:
			t.Fatalf("container %s of app %s", name, obs.App())
		}
	}
	for app, n := range perApp {
		if n > 1 {
			t.Fatalf("%d containers for app %s", n, app)
		}
	}
	now := map[string]bool{}
	for _, v := range m.rt.Volumes() {
		now[v] = true
		m.volumes[v] = true
	}
	for v := range m.volumes {
		app := v[:len(v)-len("-data")]
		if !now[v] && !m.purged[app] {
			t.Fatalf("volume %s removed without purge", v)
		}
		if !now[v] {
			delete(m.volumes, v)
		}
	}
	for _, name := range m.o.Apps() {
		if !m.desired[name] {
			t.Fatalf("orchestrator wants %s, the model does not", name)
		}
	}
}
