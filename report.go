package skerry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/orchestrator"
)

// Source says what started a pass. The zero value is SourceUnknown.
type Source int

// The sources.
const (
	SourceUnknown Source = iota
	// SourcePass: a periodic (or triggered) pass over every app, then every companion.
	SourcePass
	// SourceEvent: a pass over one app, for an engine event, a container's exit, a scheduled
	// check that failed, or the end of a crash-loop backoff.
	SourceEvent
	// SourceUnit: a pass over one companion unit whose state changed under systemd.
	SourceUnit
	// SourceInstall: an explicit Install.
	SourceInstall
	// SourceUninstall: an explicit Uninstall.
	SourceUninstall
)

var sourceNames = [...]string{"unknown", "pass", "event", "unit", "install", "uninstall"}

func (s Source) String() string {
	if s < 0 || int(s) >= len(sourceNames) {
		return "unknown"
	}
	return sourceNames[s]
}

// Report is the outcome of one pass of any source, over apps and companions.
type Report struct {
	Source   Source
	Start    time.Time
	Duration time.Duration
	// Err is set when a SourcePass could not observe the runtime at all (Apps is empty then),
	// or when an explicit Install or Uninstall failed.
	Err error
	// Interrupted reports that the pass's context ended before the pass did (shutdown past its
	// grace, or the pass deadline): whatever was in flight was abandoned and is reported with
	// an error. An interrupted pass never counts as converged.
	Interrupted bool
	// Apps holds one entry per app the pass looked at, sorted by name (for SourcePass: every
	// app, and orphans with Reason "orphan").
	Apps []orchestrator.AppReport
	// Companions holds one entry per companion unit the pass looked at, sorted by unit.
	Companions []companion.UnitReport
}

// Converged reports whether the pass completed and found everything it looked at as desired:
// no error, not interrupted, every app OK (not waiting) and every companion without error.
func (r Report) Converged() bool {
	if r.Err != nil || r.Interrupted {
		return false
	}
	for _, a := range r.Apps {
		if !a.OK() {
			return false
		}
	}
	for _, c := range r.Companions {
		if c.Err != nil {
			return false
		}
	}
	return true
}

// Acted reports how many apps and companions the pass changed.
func (r Report) Acted() int {
	n := 0
	for _, a := range r.Apps {
		if a.Action != orchestrator.ActionNone && a.Action != orchestrator.ActionWait {
			n++
		}
	}
	for _, c := range r.Companions {
		if (c.Action != "" && c.Action != companion.ActionNone) || c.Rewritten {
			n++
		}
	}
	return n
}

// String is a one-line summary: converged, then app=observed/health->action and
// unit=state->action entries, errors in parentheses.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "converged=%v", r.Converged())
	if r.Interrupted {
		b.WriteString(" interrupted")
	}
	if r.Err != nil {
		fmt.Fprintf(&b, " error: %v", r.Err)
	}
	for _, a := range r.Apps {
		fmt.Fprintf(&b, " %s=%s/%s->%s", a.App, a.Observed, a.Health, a.Action)
		if a.Err != nil {
			fmt.Fprintf(&b, "(%v)", a.Err)
		}
	}
	for _, c := range r.Companions {
		fmt.Fprintf(&b, " %s=%s->%s", c.Unit, c.State.ActiveState, c.Action)
		if c.Rewritten {
			b.WriteString("(rewritten)")
		}
		if c.Err != nil {
			fmt.Fprintf(&b, "(%v)", c.Err)
		}
	}
	return b.String()
}

// interrupted reports whether err comes from a context that ended.
func interrupted(err error) bool {
	return errors.Is(err, orchestrator.ErrInterrupted) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
