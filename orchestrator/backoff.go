package orchestrator

import (
	"time"

	"github.com/skerry-dev/skerry/runtime"
)

// Crash-loop backoff parameters, the kubelet's: the first retry of a crashed container is
// immediate (a node that rebooted must not wait), then 10 s, doubling, capped at 5 min; the
// count resets once the container has run healthily for twice the cap.
const (
	BackoffInitial = 10 * time.Second
	BackoffMax     = 5 * time.Minute
	BackoffReset   = 2 * BackoffMax
)

// Backoff is the pure crash-loop backoff state of one app. The zero value means "no failures":
// the next retry may run at once.
type Backoff struct {
	// Retries counts restarts of a crashed, unhealthy or wedged container since the last reset.
	Retries int
	// NotBefore is the earliest time of the next retry.
	NotBefore time.Time
}

// Delay returns the wait imposed after the given number of retries: 0 after none, then 10 s,
// 20 s, 40 s, ... capped at BackoffMax.
func Delay(retries int) time.Duration {
	if retries <= 0 {
		return 0
	}
	d := BackoffInitial
	for i := 1; i < retries && d < BackoffMax; i++ {
		d *= 2
	}
	return min(d, BackoffMax)
}

// Retried records a retry made at now.
func (b Backoff) Retried(now time.Time) Backoff {
	b.Retries++
	b.NotBefore = now.Add(Delay(b.Retries))
	return b
}

// Settle resets b when o shows the container running, not unhealthy, since at least
// BackoffReset before now.
func (b Backoff) Settle(o runtime.Observation, h runtime.Health, now time.Time) Backoff {
	if b.Retries > 0 && o.State == runtime.StateRunning && h != runtime.HealthUnhealthy &&
		!o.StartedAt.IsZero() && now.Sub(o.StartedAt) >= BackoffReset {
		return Backoff{}
	}
	return b
}
