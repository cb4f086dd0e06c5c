package orchestrator

import "time"

// readiness is what the wait for a started container knows when it asks whether the container
// counts as ready yet (it is running: a container that stopped is no longer waited for). It is
// plain data; readyIn decides.
type readiness struct {
	// checked is set when the app has a health check.
	checked bool
	// guarded is set when a previous release waits on this start's verdict: an upgrade, whose
	// commit removes <app>.PREV, the release that upgrade starts from (revive), and the rollback
	// that restores <app>.PREV.
	guarded bool
	// passed is set once the check passed since the start.
	passed bool
	// startedAt is the container's start; minUptime the app's effective MinUptime
	// (App.minUptime: without a check at least Health.StartPeriod).
	startedAt time.Time
	minUptime time.Duration
}

// readyIn is the readiness rule: how long after now the container counts as ready (<= 0: it is
// ready), and false while that hinges on a check that has not passed yet.
//
//	the app                       ready when
//	has no check                  it has been running for MinUptime
//	has a check, fresh start      its check first passed
//	has a check, guarded start    its check passed and it has been running for MinUptime
//
// A fresh start (install, bring-up, a restart after a crash, a recreate with no release to fall
// back to) is judged by its check alone: the check is what says the app serves, and MinUptime
// would only delay the verdict. MinUptime guards what a check cannot: an app without one, and an
// upgrade, where a release that passes its check and dies a moment later must not cost the
// previous release. A death after a fresh start's verdict is a crash as any other: the exit
// wait sees it, and the crash-loop backoff (Backoff) counts its restart.
func (r readiness) readyIn(now time.Time) (time.Duration, bool) {
	uptime := r.startedAt.Add(r.minUptime).Sub(now)
	switch {
	case !r.checked:
		return uptime, true
	case !r.passed:
		return 0, false
	case r.guarded:
		return uptime, true
	}
	return 0, true
}

// What waitReady is told about a start: whether a previous release waits on its verdict.
const (
	freshStart   = false
	guardedStart = true
)
