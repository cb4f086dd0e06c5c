package orchestrator

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/skerry-dev/skerry/runtime"
)

var (
	allStates = []runtime.State{runtime.StateUnknown, runtime.StateMissing, runtime.StateCreated, runtime.StateRunning,
		runtime.StatePaused, runtime.StateStopped, runtime.StateExited, runtime.StateRemoving, runtime.StateStopping}
	allHealth = []runtime.Health{runtime.HealthUnknown, runtime.HealthNone, runtime.HealthStarting, runtime.HealthHealthy, runtime.HealthUnhealthy}
	t0        = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
)

// combo is one cell of the lifecycle table's input space.
type combo struct {
	desired, drift, hook, backoff, waiting, stopWith bool
	state                                            runtime.State
	health                                           runtime.Health
	tag                                              tagCase
}

// tagCase is what the desired image's tag names now, against the image the container runs.
type tagCase int

const (
	tagSame     tagCase = iota // the container's image (or not known)
	tagMoved                   // another image: drift
	tagToFailed                // the image of the upgrade the app is held off: no drift
)

func (c combo) facts() Facts {
	obs := runtime.Observation{Name: "app", State: c.state, ImageID: "sha256:aaa", Labels: map[string]string{runtime.LabelSpecHash: "h1"}}
	if c.state == runtime.StateMissing {
		obs = runtime.Missing("app")
	}
	f := Facts{Desired: c.desired, SpecHash: "h1", Observed: obs, Health: c.health, HookChanged: c.hook, Now: t0}
	switch c.tag {
	case tagSame:
		f.ImageID = "sha256:aaa"
	case tagMoved:
		f.ImageID, f.FailedImageID = "sha256:bbb", "sha256:ccc"
	case tagToFailed:
		f.ImageID, f.FailedImageID = "sha256:ccc", "sha256:ccc"
	}
	if c.drift {
		f.SpecHash = "h2"
	}
	if c.backoff {
		f.Backoff = Backoff{Retries: 2, NotBefore: t0.Add(time.Minute)}
	}
	if c.waiting {
		f.WaitingFor = "bitcoind (starting)"
	}
	f.StopWith = c.stopWith
	return f
}

// rule is one row of the lifecycle table from DESIGN.md, written as data: the first row whose
// conditions all hold gives the action. nil conditions match anything.
type rule struct {
	desired, drift, hook, backoff, waiting, stopWith *bool
	states                                           []runtime.State
	health                                           []runtime.Health
	want                                             Action
}

func b(v bool) *bool { return &v }

var (
	wedged  = []runtime.State{runtime.StateUnknown, runtime.StateCreated, runtime.StatePaused, runtime.StateRemoving, runtime.StateStopping}
	stopped = []runtime.State{runtime.StateStopped, runtime.StateExited}
	running = []runtime.State{runtime.StateRunning}
	missing = []runtime.State{runtime.StateMissing}
	present = append(append(append([]runtime.State{}, wedged...), stopped...), running...)
)

var lifecycleTable = []rule{
	{desired: b(false), states: missing, want: ActionNone},
	{desired: b(false), want: ActionRemove},
	{states: []runtime.State{runtime.StateRunning, runtime.StatePaused}, waiting: b(true), stopWith: b(true), want: ActionStop},
	{states: missing, waiting: b(true), want: ActionWait},
	{states: missing, want: ActionCreate},
	{states: present, drift: b(true), waiting: b(true), want: ActionWait},
	{states: present, drift: b(true), want: ActionRecreate},
	{states: wedged, waiting: b(true), want: ActionWait},
	{states: wedged, backoff: b(true), want: ActionWait},
	{states: wedged, want: ActionRecreate},
	{states: stopped, waiting: b(true), want: ActionWait},
	{states: stopped, backoff: b(true), want: ActionWait},
	{states: stopped, want: ActionStart},
	{states: running, health: []runtime.Health{runtime.HealthUnhealthy}, waiting: b(true), want: ActionWait},
	{states: running, health: []runtime.Health{runtime.HealthUnhealthy}, backoff: b(true), want: ActionWait},
	{states: running, health: []runtime.Health{runtime.HealthUnhealthy}, want: ActionRestart},
	{states: running, hook: b(true), waiting: b(true), want: ActionWait},
	{states: running, hook: b(true), want: ActionRestart},
	{states: running, health: []runtime.Health{runtime.HealthStarting}, want: ActionWait},
	{states: running, want: ActionNone},
}

func (r rule) matches(c combo) bool {
	eq := func(p *bool, v bool) bool { return p == nil || *p == v }
	in := func(xs []runtime.State, x runtime.State) bool {
		for _, s := range xs {
			if s == x {
				return true
			}
		}
		return xs == nil
	}
	inH := func(xs []runtime.Health, x runtime.Health) bool {
		for _, h := range xs {
			if h == x {
				return true
			}
		}
		return xs == nil
	}
	// A moved tag is drift as a changed spec is (a missing container has no image to compare).
	drift := c.drift || (c.tag == tagMoved && c.state != runtime.StateMissing)
	return eq(r.desired, c.desired) && eq(r.drift, drift) && eq(r.hook, c.hook) && eq(r.backoff, c.backoff) &&
		eq(r.waiting, c.waiting) && eq(r.stopWith, c.stopWith) && in(r.states, c.state) && inH(r.health, c.health)
}

// TestDecideTable checks every combination of desired x state x health x drift x hook x backoff
// x dependency x stop-with-dependency x what the image tag names against the lifecycle table.
func TestDecideTable(t *testing.T) {
	n := 0
	for _, tag := range []tagCase{tagSame, tagMoved, tagToFailed} {
		for _, desired := range []bool{true, false} {
			for _, st := range allStates {
				for _, h := range allHealth {
					for _, drift := range []bool{false, true} {
						for _, hook := range []bool{false, true} {
							for _, backoff := range []bool{false, true} {
								for _, waiting := range []bool{false, true} {
									for _, stopWith := range []bool{false, true} {
										c := combo{desired, drift, hook, backoff, waiting, stopWith, st, h, tag}
										want := ActionNone
										for _, r := range lifecycleTable {
											if r.matches(c) {
												want = r.want
												break
											}
										}
										got := Decide(c.facts())
										n++
										if got.Action != want {
											t.Errorf("%+v: Decide = %s (%s), want %s", c, got.Action, got.Reason, want)
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
	if n != 3*2*9*5*2*2*2*2*2 {
		t.Fatalf("covered %d combinations", n)
	}
}

func TestDecideBackoffWaitCarriesRetryTime(t *testing.T) {
	f := combo{desired: true, backoff: true, state: runtime.StateExited}.facts()
	d := Decide(f)
	if d.Action != ActionWait || !d.NotBefore.Equal(f.Backoff.NotBefore) {
		t.Fatalf("Decide = %+v, want wait until %v", d, f.Backoff.NotBefore)
	}
	f.Now = f.Backoff.NotBefore // the moment it expires
	if d := Decide(f); d.Action != ActionStart || !d.CountsAsRetry {
		t.Fatalf("at NotBefore: Decide = %+v, want a start counted as a retry", d)
	}
}

func genFacts(t *rapid.T) Facts {
	st := rapid.SampledFrom(allStates).Draw(t, "state")
	ids := []string{"", "sha256:i1", "sha256:i2"}
	obs := runtime.Observation{Name: "app", State: st, ImageID: rapid.SampledFrom(ids).Draw(t, "runsImage"),
		Labels: map[string]string{runtime.LabelSpecHash: rapid.SampledFrom([]string{"", "h1", "h2"}).Draw(t, "observedHash")}}
	if st == runtime.StateMissing {
		obs = runtime.Missing("app")
	}
	now := t0.Add(time.Duration(rapid.Int64Range(0, int64(time.Hour)).Draw(t, "now")))
	return Facts{
		Desired:       rapid.Bool().Draw(t, "desired"),
		SpecHash:      rapid.SampledFrom([]string{"h1", "h2"}).Draw(t, "hash"),
		ImageID:       rapid.SampledFrom(ids).Draw(t, "tagNames"),
		FailedImageID: rapid.SampledFrom(ids).Draw(t, "failedImage"),
		Observed:      obs,
		Health:        rapid.SampledFrom(allHealth).Draw(t, "health"),
		HookChanged:   rapid.Bool().Draw(t, "hook"),
		WaitingFor:    rapid.SampledFrom([]string{"", "bitcoind"}).Draw(t, "waiting"),
		StopWith:      rapid.Bool().Draw(t, "stopWith"),
		Backoff: Backoff{
			Retries:   rapid.IntRange(0, 20).Draw(t, "retries"),
			NotBefore: t0.Add(time.Duration(rapid.Int64Range(0, int64(2*time.Hour)).Draw(t, "notBefore"))),
		},
		Now: now,
	}
}

// TestDecideProperties states what must hold for any facts, whatever the table says.
func TestDecideProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := genFacts(t)
		d := Decide(f)
		if d != Decide(f) {
			t.Fatal("Decide is not deterministic")
		}
		if !f.Desired && d.Action != ActionNone && d.Action != ActionRemove {
			t.Fatalf("undesired app got %s", d.Action)
		}
		if f.Desired && d.Action == ActionRemove {
			t.Fatal("desired app would be removed")
		}
		if d.Action.Starts() && f.WaitingFor != "" {
			t.Fatalf("started %s while waiting for a dependency", d.Action)
		}
		if d.Action.Starts() && d.CountsAsRetry && f.Now.Before(f.Backoff.NotBefore) {
			t.Fatalf("retry %s before the backoff expired", d.Action)
		}
		o := f.Observed
		sameImage := f.ImageID == "" || o.ImageID == "" || f.ImageID == o.ImageID || f.ImageID == f.FailedImageID
		healthyAndCurrent := o.State == runtime.StateRunning && o.SpecHash() == f.SpecHash && sameImage &&
			(f.Health == runtime.HealthHealthy || f.Health == runtime.HealthNone)
		if f.Desired && o.State == runtime.StateRunning && o.SpecHash() == f.SpecHash && !sameImage && f.WaitingFor == "" &&
			!f.Foreign && d.Action != ActionRecreate {
			t.Fatalf("a container whose tag moved to another image (not the failed one) got %s", d.Action)
		}
		if d.Action == ActionStop && (f.WaitingFor == "" || !f.StopWith) {
			t.Fatal("stopped without a failed stop-with dependency")
		}
		if f.Desired && healthyAndCurrent && !f.HookChanged && !(f.WaitingFor != "" && f.StopWith) && d.Action != ActionNone {
			t.Fatalf("a healthy current container got %s", d.Action)
		}
		if f.Desired && f.Observed.State == runtime.StateMissing && f.WaitingFor == "" && d.Action != ActionCreate {
			t.Fatalf("missing container got %s", d.Action)
		}
		if d.Action != ActionWait && !d.NotBefore.IsZero() {
			t.Fatal("NotBefore set on a non-wait decision")
		}
		if d.Reason == "" {
			t.Fatal("decision without a reason")
		}
	})
}

// TestDecideMovedTagProperties: for a desired container of the desired spec, a tag that names
// another image than the container runs (known on both sides, not the image the app is held off)
// is an upgrade whatever the state, health, hook or backoff; anything else about the image never
// is.
func TestDecideMovedTagProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := genFacts(t)
		f.Desired, f.WaitingFor = true, ""
		if f.Observed.State == runtime.StateMissing {
			f.Observed.State = runtime.StateRunning
		}
		f.Observed.Labels = map[string]string{runtime.LabelSpecHash: f.SpecHash}
		o := f.Observed
		moved := f.ImageID != "" && o.ImageID != "" && f.ImageID != o.ImageID && f.ImageID != f.FailedImageID
		d := Decide(f)
		if moved && (d.Action != ActionRecreate || d.CountsAsRetry) {
			t.Fatalf("moved tag: Decide = %+v, want a recreate that is no retry", d)
		}
		if moved != TagMoved(f) {
			t.Fatalf("TagMoved = %v, want %v", TagMoved(f), moved)
		}
		if !moved && strings.Contains(d.Reason, "moved") {
			t.Fatalf("no moved tag, but: %s", d.Reason)
		}
	})
}

func TestDelay(t *testing.T) {
	want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second}
	for n, w := range want {
		if got := Delay(n); got != w {
			t.Errorf("Delay(%d) = %v, want %v", n, got, w)
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 1000).Draw(t, "n")
		if Delay(n) > BackoffMax || Delay(n+1) < Delay(n) {
			t.Fatalf("Delay(%d)=%v Delay(%d)=%v: not monotone or over the cap", n, Delay(n), n+1, Delay(n+1))
		}
	})
}

func TestBackoffSettle(t *testing.T) {
	b := Backoff{}.Retried(t0).Retried(t0.Add(time.Minute))
	run := runtime.Observation{State: runtime.StateRunning, StartedAt: t0.Add(time.Minute)}
	if got := b.Settle(run, runtime.HealthHealthy, t0.Add(time.Minute+BackoffReset-time.Second)); got != b {
		t.Fatalf("reset too early: %+v", got)
	}
	if got := b.Settle(run, runtime.HealthHealthy, t0.Add(time.Minute+BackoffReset)); got != (Backoff{}) {
		t.Fatalf("not reset after %v of stable running: %+v", BackoffReset, got)
	}
	if got := b.Settle(run, runtime.HealthUnhealthy, t0.Add(time.Hour)); got != b {
		t.Fatalf("reset while unhealthy: %+v", got)
	}
}

func ExampleTagMoved() {
	f := Facts{
		Desired:  true,
		SpecHash: "a1",
		Image:    "localhost/lnd:latest",
		ImageID:  "sha256:2222222222222222", // what the tag names now
		Observed: runtime.Observation{Name: "lnd", State: runtime.StateRunning, ImageID: "sha256:1111111111111111",
			Labels: map[string]string{runtime.LabelSpecHash: "a1"}},
	}
	fmt.Println(TagMoved(f), Decide(f).Action, "-", Decide(f).Reason)
	f.FailedImageID = f.ImageID // that image failed its upgrade: the app is held off it
	fmt.Println(TagMoved(f), Decide(f).Action)
	// Output:
	// true recreate - new release: tag localhost/lnd:latest moved to image 222222222222 (the container runs 111111111111)
	// false none
}

func ExampleDecide() {
	d := Decide(Facts{
		Desired:  true,
		SpecHash: "a1",
		Observed: runtime.Observation{Name: "lnd", State: runtime.StateExited, ExitCode: 1,
			Labels: map[string]string{runtime.LabelSpecHash: "a1"}},
		Now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC),
	})
	fmt.Println(d.Action, "-", d.Reason)
	// Output: start - exited (exit code 1)
}
