package skerry

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/quadlet"
	"github.com/skerry-dev/skerry/runtime"
)

// Status is what a UI shows: every app with its companions, as the reports passing through the
// supervisor left them. Reading it makes no runtime call. A Status is a snapshot: the
// supervisor never changes one it handed out.
type Status struct {
	// Apps are the desired apps, apps being removed and orphans, sorted by name.
	Apps []AppStatus
	// LastPass is when the last periodic pass started; Converged and PassErr are its outcome.
	LastPass  time.Time
	Converged bool
	PassErr   error
	// Updated is when the last report arrived.
	Updated time.Time
}

// App returns the status of the app named name, and whether there is one.
func (s Status) App(name string) (AppStatus, bool) {
	i, ok := slices.BinarySearchFunc(s.Apps, name, func(a AppStatus, n string) int { return strings.Compare(a.Name, n) })
	if !ok {
		return AppStatus{}, false
	}
	return s.Apps[i], true
}

// AppStatus is one app as last reported.
type AppStatus struct {
	Name string
	// Desired is false for an app being uninstalled and for an orphan (a managed container of
	// an app the supervisor does not know).
	Desired bool
	// Image is the desired image.
	Image string
	// State and Health are what the last report observed, moved on by a successful action:
	// running (and healthy, when the app has a check) after a start or a rollback, exited
	// after a stop.
	State  runtime.State
	Health runtime.Health
	// ObservedAt is when the last report about the app ended.
	ObservedAt time.Time
	// Reason is why the last decision was taken ("running, healthy", "waiting for bitcoind
	// (exited)", "crash-loop backoff: ...").
	Reason string
	// WaitingFor names the dependency the app waits for (or was stopped for), "" when none.
	WaitingFor string
	// BackoffUntil is when a crash-loop backoff lets the app be retried; zero when none.
	BackoffUntil time.Time
	// LastAction is the last action other than none and wait, with its time and reason.
	LastAction       orchestrator.Action
	LastActionAt     time.Time
	LastActionReason string
	// Err is the error of the last report about the app, nil when it went well.
	Err error
	// LastError is the last error ever reported about the app, kept after it cleared.
	LastError   error
	LastErrorAt time.Time
	// Rollback is set while the app is held on its last good release because its desired
	// release did not come up (orchestrator.AppReport.Rollback, which survives a restart of
	// the daemon): which release failed and which runs instead. RolledBackAt is when it was
	// first reported. Both clear when the desired spec changes.
	Rollback     *orchestrator.Rollback
	RolledBackAt time.Time
	// Pull is set while skerry pulls the app's image (it was missing); nil otherwise.
	Pull *PullStatus
	// Companions are the app's companion units, sorted by unit.
	Companions []CompanionStatus
}

// CompanionStatus is one companion unit as last reported.
type CompanionStatus struct {
	Name  string // the companion's name
	Unit  string // its systemd service ("bitcoind-ui.service")
	Image string
	// Status is the companion's state as the last pass left it (companion.StatusActive,
	// StatusStarting, StatusFailed ...).
	Status companion.Status
	// ActiveState and SubState are systemd's, as last read before any action.
	ActiveState, SubState string
	ObservedAt            time.Time
	// LastAction is the last action other than none, with its time; Rewritten reports that
	// the last pass rewrote the unit file.
	LastAction   companion.Action
	LastActionAt time.Time
	Rewritten    bool
	// Err is the error of the last report about the unit, nil when it went well.
	Err error
	// Pull is set while skerry pulls the companion's image (it was missing); nil otherwise.
	Pull *PullStatus
}

// Status returns the current status. It makes no runtime call.
func (s *Supervisor) Status() Status { return s.status.snapshot() }

// Subscribe returns a channel that receives the current status at once, then the status after
// every report, until ctx ends; it is closed then. The supervisor never waits for a subscriber:
// one that falls behind receives only the newest status (changes coalesce).
func (s *Supervisor) Subscribe(ctx context.Context) <-chan Status { return s.status.subscribe(ctx) }

// statusBook builds the status from reports.
type statusBook struct {
	mu      sync.Mutex
	apps    map[string]*appEntry
	pass    Status // LastPass, Converged, PassErr, Updated
	current Status
	subs    map[chan Status]bool
}

type appEntry struct {
	AppStatus
	hasCheck bool
	// pullShown is when a status last carried the app's pull progress; compPullShown, by
	// unit, a companion's.
	pullShown     time.Time
	compPullShown map[string]time.Time
}

func newStatusBook() *statusBook {
	return &statusBook{apps: map[string]*appEntry{}, subs: map[chan Status]bool{}}
}

func (b *statusBook) entry(name string) *appEntry {
	e := b.apps[name]
	if e == nil {
		e = &appEntry{AppStatus: AppStatus{Name: name}}
		b.apps[name] = e
	}
	return e
}

// want records app as desired with its companions; a changed image or spec ends a rollback.
func (b *statusBook) want(app App) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entry(app.Name)
	if e.Desired && e.Image != app.Container.Image {
		e.Rollback, e.RolledBackAt = nil, time.Time{}
	}
	e.Desired, e.Image, e.hasCheck = true, app.Container.Image, app.Health.Kind() != health.KindNone
	old := map[string]CompanionStatus{}
	for _, c := range e.Companions {
		old[c.Unit] = c
	}
	e.Companions = nil
	for _, spec := range app.Companions {
		unit := quadlet.ServiceName(spec.Name)
		c, ok := old[unit]
		if !ok {
			c = CompanionStatus{Name: spec.Name, Unit: unit}
		}
		c.Image = spec.Image
		e.Companions = append(e.Companions, c)
	}
	slices.SortFunc(e.Companions, func(a, b CompanionStatus) int { return strings.Compare(a.Unit, b.Unit) })
	b.publish(time.Time{})
}

// unwant records that name is being uninstalled.
func (b *statusBook) unwant(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.apps[name]; e != nil {
		e.Desired = false
		b.publish(time.Time{})
	}
}

// record applies a report.
func (b *statusBook) record(r Report) {
	b.mu.Lock()
	defer b.mu.Unlock()
	at := r.Start.Add(r.Duration)
	seen := map[string]bool{}
	for _, a := range r.Apps {
		seen[a.App] = true
		b.recordApp(a, at)
	}
	for _, c := range r.Companions {
		b.recordUnit(c, at)
	}
	if r.Source == SourcePass {
		b.pass.LastPass, b.pass.Converged, b.pass.PassErr = r.Start, r.Converged(), r.Err
		if r.Err == nil && !r.Interrupted {
			for name, e := range b.apps { // gone from the engine and no longer wanted
				if !seen[name] && !e.Desired {
					delete(b.apps, name)
				}
			}
		}
	}
	b.publish(at)
}

func (b *statusBook) recordApp(r orchestrator.AppReport, at time.Time) {
	if b.apps[r.App] == nil && r.Reason != "orphan" {
		return // an app the supervisor does not know (any more): a late event about it
	}
	e := b.entry(r.App)
	if r.Err == nil && !e.Desired && (r.Action == orchestrator.ActionRemove || r.Observed == runtime.StateMissing) {
		delete(b.apps, r.App) // uninstalled
		return
	}
	if r.Observed != runtime.StateUnknown || r.Err == nil {
		e.State, e.Health = r.Observed, r.Health
	}
	switch {
	case (r.Err == nil && r.Action.Starts()) || errors.Is(r.Err, runtime.ErrRolledBack): // ready (on the last good release)
		e.State, e.Health = runtime.StateRunning, runtime.HealthNone
		if e.hasCheck {
			e.Health = runtime.HealthHealthy
		}
	case r.Err == nil && r.Action == orchestrator.ActionStop:
		e.State = runtime.StateExited
	}
	e.ObservedAt, e.Reason, e.BackoffUntil, e.Err = at, r.Reason, r.NotBefore, r.Err
	e.WaitingFor = ""
	if w, ok := strings.CutPrefix(r.Reason, "waiting for "); ok && r.Action == orchestrator.ActionWait {
		e.WaitingFor = w
	} else if w, ok := strings.CutPrefix(r.Reason, "dependency failed: "); ok && r.Action == orchestrator.ActionStop {
		e.WaitingFor = w
	}
	if r.Action != orchestrator.ActionNone && r.Action != orchestrator.ActionWait {
		e.LastAction, e.LastActionAt, e.LastActionReason = r.Action, at, r.Reason
	}
	if r.Err != nil {
		e.LastError, e.LastErrorAt = r.Err, at
	}
	switch {
	case r.Rollback != nil:
		if e.Rollback == nil || *e.Rollback != *r.Rollback {
			e.RolledBackAt = at
		}
		rb := *r.Rollback
		e.Rollback = &rb
	case r.Observed != runtime.StateUnknown: // judged, and not held
		e.Rollback, e.RolledBackAt = nil, time.Time{}
	}
}

func (b *statusBook) recordUnit(r companion.UnitReport, at time.Time) {
	e := b.apps[r.App]
	if e == nil {
		return
	}
	c := e.companion(r.Unit)
	if r.Action == companion.ActionRemoved && r.Err == nil {
		e.Companions = slices.DeleteFunc(e.Companions, func(c CompanionStatus) bool { return c.Unit == r.Unit })
		return
	}
	c.Status, c.ActiveState, c.SubState, c.ObservedAt, c.Rewritten, c.Err = r.Status, r.State.ActiveState, r.State.SubState, at, r.Rewritten, r.Err
	if r.Action != "" && r.Action != companion.ActionNone {
		c.LastAction, c.LastActionAt = r.Action, at
	}
}

// publish rebuilds the snapshot and offers it to every subscriber. Called with b.mu held.
func (b *statusBook) publish(at time.Time) {
	st := b.pass
	if !at.IsZero() {
		b.pass.Updated, st.Updated = at, at
	}
	for _, name := range slices.Sorted(maps.Keys(b.apps)) {
		a := b.apps[name].AppStatus
		a.Companions = slices.Clone(a.Companions)
		st.Apps = append(st.Apps, a)
	}
	b.current = st
	for ch := range b.subs {
		select { // drop the status the subscriber has not taken yet: the newest replaces it
		case <-ch:
		default:
		}
		ch <- st // never blocks: only publish sends, under b.mu, and the buffer is free
	}
}

func (b *statusBook) snapshot() Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.current
}

func (b *statusBook) subscribe(ctx context.Context) <-chan Status {
	ch := make(chan Status, 1)
	b.mu.Lock()
	defer b.mu.Unlock()
	ch <- b.current
	b.subs[ch] = true
	context.AfterFunc(ctx, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.subs, ch)
		close(ch)
	})
	return ch
}
