package orchestrator

import (
	"fmt"
	"strings"
	"time"

	"github.com/skerry-dev/skerry/runtime"
)

// AppReport is the outcome of one app in one operation.
type AppReport struct {
	App string
	// Observed is the container's state before the action; Health its health then.
	Observed runtime.State
	Health   runtime.Health
	Action   Action
	Reason   string
	// Err is the action's failure, nil on success. It wraps ErrNotReady when a started
	// container did not become healthy, and never carries secret values.
	Err error
	// NotBefore is the retry time of an ActionWait under backoff.
	NotBefore time.Time
	// Logs is the tail of the container's log when Err is set and the runtime can read logs.
	Logs []string
	// Rollback is set while the app is held on its last good release because its desired
	// release did not come up (on the report of the rollback and on every later one, until the
	// desired spec changes): what failed and what runs instead. See Orchestrator.Effective.
	Rollback *Rollback
	// Inputs lists the secrets and rendered files whose version changed in this pass, with
	// the consumers (the app, its companions) brought onto them (see Secret).
	Inputs   []InputChange
	Duration time.Duration
}

// OK reports whether the app needs no further attention: no error and not waiting. An app held
// on its last good release (Rollback set) is OK: nothing more is done until its desired spec
// changes.
func (r AppReport) OK() bool { return r.Err == nil && r.Action != ActionWait }

func (r AppReport) String() string {
	s := fmt.Sprintf("%s: %s/%s -> %s (%s)", r.App, r.Observed, r.Health, r.Action, r.Reason)
	for _, in := range r.Inputs {
		s += fmt.Sprintf("; %s changed for %s", in.Input, strings.Join(in.Consumers, ", "))
	}
	if r.Err != nil {
		s += ": error: " + r.Err.Error()
	}
	return s
}

// Report is the outcome of one ReconcileAll pass.
type Report struct {
	Start    time.Time
	Duration time.Duration
	// Err is set when the pass could not observe the runtime at all; Apps is empty then.
	Err error
	// Apps holds one entry per app, sorted by name; orphans (managed containers of apps the
	// orchestrator does not know) are listed with ActionNone and Reason "orphan".
	Apps []AppReport
	// StrayTimers lists the podman check timers the pass removed because their container was
	// gone (Options.CheckTimers).
	StrayTimers []string
	// KeptNetworks lists the networks of apps no longer desired (or no longer owned) that the
	// pass found still in use and kept; a later pass removes them once free (see Network).
	KeptNetworks []string
}

// Converged reports whether the pass observed the runtime and every app is OK.
func (r Report) Converged() bool {
	if r.Err != nil {
		return false
	}
	for _, a := range r.Apps {
		if !a.OK() {
			return false
		}
	}
	return true
}

// Acted reports the number of apps the pass changed (any action but none and wait).
func (r Report) Acted() int {
	n := 0
	for _, a := range r.Apps {
		if a.Action != ActionNone && a.Action != ActionWait {
			n++
		}
	}
	return n
}

func (r Report) String() string {
	if r.Err != nil {
		return "pass failed: " + r.Err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pass: %d apps, %d acted, converged=%v", len(r.Apps), r.Acted(), r.Converged())
	for _, a := range r.Apps {
		b.WriteString("\n  ")
		b.WriteString(a.String())
	}
	return b.String()
}
