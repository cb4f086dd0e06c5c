package skerry

import (
	"slices"
	"strings"
	"time"

	"github.com/skerry-dev/skerry/quadlet"
	"github.com/skerry-dev/skerry/runtime"
)

// PullStatus is how far the pull of an app's (or a companion's) image has come. Subscribe
// delivers a status when a pull starts, at most every PullStatusEvery while it advances, and
// when it ends (Pull is nil again).
type PullStatus struct {
	// Image is the reference being pulled.
	Image string
	// Layers is the number of layer blobs the engine has started copying (those already
	// present included); Config is set once it copies the image's configuration, which comes
	// after every layer. The total is not known in advance: podman's pull stream does not say.
	Layers int
	Config bool
	// Bytes is the number of bytes copied, -1 when the engine does not report bytes (podman).
	Bytes int64
	// Started is when the pull started, Updated when it last reported progress.
	Started, Updated time.Time
}

// PullStatusEvery is the least time between two statuses that only a pull's progress changed.
const PullStatusEvery = 250 * time.Millisecond

// pulling records the progress of a pull of app's image (orchestrator.Options.OnPull),
// publishing at the start and the end of the pull and at most every PullStatusEvery between.
func (b *statusBook) pulling(app string, p runtime.PullProgress, done bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.apps[app]
	if e == nil && done {
		return
	}
	if e == nil { // an Install of a new app: its status is recorded once it returns
		e = b.entry(app)
		e.Desired, e.Image = true, p.Ref
	}
	if advancePull(&e.Pull, &e.pullShown, p, done) {
		b.publish(time.Time{})
	}
}

// advancePull records a pull's progress in *pull (nil once done) and reports whether to
// publish: at the start and the end, and when *shown (the last publication of its progress)
// is PullStatusEvery old.
func advancePull(pull **PullStatus, shown *time.Time, p runtime.PullProgress, done bool) bool {
	now := time.Now()
	if done {
		*pull = nil
		return true
	}
	ps := PullStatus{Image: p.Ref, Layers: p.Layers, Config: p.Config, Bytes: p.Bytes, Started: now, Updated: now}
	first := *pull == nil
	if !first {
		ps.Started = (*pull).Started
	}
	*pull = &ps
	if first || now.Sub(*shown) >= PullStatusEvery {
		*shown = now
		return true
	}
	return false
}

// companionPulling records the progress of a pull of the image of app's companion name
// (companion.Options.OnPull), as pulling does for an app's. An app or companion the status
// does not list yet (being installed) is added.
func (b *statusBook) companionPulling(app, name string, p runtime.PullProgress, done bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.apps[app]
	if e == nil && done {
		return
	}
	if e == nil { // an Install of a new app: want completes it once the install returns
		e = b.entry(app)
		e.Desired = true
	}
	unit := quadlet.ServiceName(name)
	c := e.companion(unit)
	if c.Pull == nil && done {
		return
	}
	if c.Image == "" {
		c.Image = p.Ref
	}
	if e.compPullShown == nil {
		e.compPullShown = map[string]time.Time{}
	}
	shown := e.compPullShown[unit]
	publish := advancePull(&c.Pull, &shown, p, done)
	e.compPullShown[unit] = shown
	if done {
		delete(e.compPullShown, unit)
	}
	if publish {
		b.publish(time.Time{})
	}
}

// companion returns e's status of unit, added (sorted) when it has none.
func (e *appEntry) companion(unit string) *CompanionStatus {
	i := slices.IndexFunc(e.Companions, func(c CompanionStatus) bool { return c.Unit == unit })
	if i < 0 {
		e.Companions = append(e.Companions, CompanionStatus{Unit: unit, Name: strings.TrimSuffix(unit, ".service")})
		slices.SortFunc(e.Companions, func(a, b CompanionStatus) int { return strings.Compare(a.Unit, b.Unit) })
		i = slices.IndexFunc(e.Companions, func(c CompanionStatus) bool { return c.Unit == unit })
	}
	return &e.Companions[i]
}
