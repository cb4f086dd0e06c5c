package health

import "time"

// Status is a committed health status. The zero value is StatusUnknown: nothing committed yet.
type Status int

// The statuses.
const (
	StatusUnknown Status = iota
	StatusHealthy
	StatusUnhealthy
)

func (s Status) String() string { return [...]string{"unknown", "healthy", "unhealthy"}[s] }

// Result is the outcome of one probe.
type Result bool

// The results.
const (
	Fail    Result = false
	Success Result = true
)

// Tracker turns probe results into a committed Status with the kubelet's semantics: a status
// changes only after Threshold identical consecutive results (FailureThreshold failures,
// SuccessThreshold successes), and failures within StartPeriod after a start do not count.
// It is a plain value: Observe returns the next tracker and does no I/O.
type Tracker struct {
	Status Status
	// run is the length of the current streak of identical results; last is their value.
	run  int
	last Result
}

// Observe records result r of a probe taken at now, for a container started at startedAt, under
// check c (defaults applied by the caller or not: zero thresholds mean the defaults).
func (t Tracker) Observe(c Check, startedAt, now time.Time, r Result) Tracker {
	c = c.WithDefaults()
	if r == Fail && now.Sub(startedAt) < c.StartPeriod {
		return t // a failure within the start period does not count (nor break a success streak)
	}
	if t.run > 0 && t.last == r {
		t.run++
	} else {
		t.run, t.last = 1, r
	}
	switch {
	case r == Success && t.run >= c.SuccessThreshold:
		t.Status = StatusHealthy
	case r == Fail && t.run >= c.FailureThreshold:
		t.Status = StatusUnhealthy
	}
	return t
}

// Reset forgets everything: used when the container is (re)started.
func (t Tracker) Reset() Tracker { return Tracker{} }
