// Package health owns what "healthy" means for an app: the check specification (exec inside the
// container, HTTP GET, TCP connect) with its timings and thresholds, the pure Tracker that turns
// a stream of probe results into a committed status, and the HTTP and TCP probers.
//
// Exec checks run inside the container through the engine (see Check.Native); HTTP and TCP
// checks are probed by skerry itself from the host.
package health

import (
	"fmt"
	"net/url"
	"time"

	"github.com/skerry-dev/skerry/runtime"
)

// Defaults applied by Check.WithDefaults to zero fields. They follow the kubelet's liveness
// probe (period 10 s, failure threshold 3, success threshold 1) except for the timeout: the
// kubelet's 1 s is too short for `podman exec` on a loaded two-core node, so skerry uses 5 s.
const (
	DefaultInterval         = 10 * time.Second
	DefaultTimeout          = 5 * time.Second
	DefaultFailureThreshold = 3
	DefaultSuccessThreshold = 1
)

// Check specifies one app's health check. Exactly one of Exec, HTTP and TCP may be set; a Check
// with none set means "no check": the app is healthy once it has stayed running for StartPeriod
// (see Ready).
type Check struct {
	// Exec runs inside the container; exit status 0 means healthy. It becomes the engine's native
	// health check, so an observation of the container carries its result.
	Exec []string
	// HTTP is probed with a GET from the host; a 2xx or 3xx status means healthy.
	HTTP *HTTPGet
	// TCP is a host:port a connection must succeed to.
	TCP string

	// Interval between probes (default DefaultInterval).
	Interval time.Duration
	// Timeout of one probe (default DefaultTimeout, or Interval when that is shorter).
	Timeout time.Duration
	// StartPeriod after a start during which failures do not count (default 0).
	StartPeriod time.Duration
	// FailureThreshold consecutive failures commit Unhealthy (default 3).
	FailureThreshold int
	// SuccessThreshold consecutive successes commit Healthy (default 1).
	SuccessThreshold int
}

// HTTPGet is an HTTP health probe.
type HTTPGet struct {
	// URL is an absolute http or https URL, e.g. "http://127.0.0.1:3002/health".
	URL string
}

// Kind is the kind of a check.
type Kind int

// The kinds. KindNone is the zero value.
const (
	KindNone Kind = iota
	KindExec
	KindHTTP
	KindTCP
)

func (k Kind) String() string {
	return [...]string{"none", "exec", "http", "tcp"}[k]
}

// Kind reports which probe c uses; when several are set (an invalid check) it reports the
// first of exec, http, tcp.
func (c Check) Kind() Kind {
	switch {
	case len(c.Exec) > 0:
		return KindExec
	case c.HTTP != nil:
		return KindHTTP
	case c.TCP != "":
		return KindTCP
	}
	return KindNone
}

// WithDefaults returns c with zero timings and thresholds replaced by the defaults. An unset
// Timeout is DefaultTimeout or the Interval, whichever is shorter: a check of a 1 s interval
// gets a 1 s timeout.
func (c Check) WithDefaults() Check {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout == 0 {
		c.Timeout = min(DefaultTimeout, c.Interval)
	}
	if c.FailureThreshold == 0 {
		c.FailureThreshold = DefaultFailureThreshold
	}
	if c.SuccessThreshold == 0 {
		c.SuccessThreshold = DefaultSuccessThreshold
	}
	return c
}

// Native returns the engine-native health check for an exec check, nil for other kinds.
func (c Check) Native() *runtime.HealthCheck {
	if c.Kind() != KindExec {
		return nil
	}
	c = c.WithDefaults()
	return &runtime.HealthCheck{
		Command: c.Exec, Interval: c.Interval, Timeout: c.Timeout,
		StartPeriod: c.StartPeriod, Retries: c.FailureThreshold,
	}
}

// ValidateInto adds c's problems to p, fields prefixed with prefix.
func (c Check) ValidateInto(p *runtime.Problems, prefix string) {
	set := 0
	for _, b := range []bool{len(c.Exec) > 0, c.HTTP != nil, c.TCP != ""} {
		if b {
			set++
		}
	}
	if set > 1 {
		p.Add(prefix+"Health", "sets %d of Exec, HTTP, TCP; at most one is allowed", set)
	}
	for i, a := range c.Exec {
		if hasNewlineOrNUL(a) {
			p.Add(fmt.Sprintf("%sHealth.Exec[%d]", prefix, i), "contains a newline or NUL")
		}
	}
	if c.HTTP != nil {
		u, err := url.Parse(c.HTTP.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.Add(prefix+"Health.HTTP.URL", "must be an absolute http(s) URL")
		}
	}
	if c.TCP != "" {
		if _, port, err := splitHostPort(c.TCP); err != nil || port == 0 {
			p.Add(prefix+"Health.TCP", "%q must be host:port", c.TCP)
		}
	}
	runtime.ValidateDuration(p, prefix+"Health.Interval", c.Interval, 0, 24*time.Hour)
	runtime.ValidateDuration(p, prefix+"Health.Timeout", c.Timeout, 0, time.Hour)
	runtime.ValidateDuration(p, prefix+"Health.StartPeriod", c.StartPeriod, 0, 24*time.Hour)
	d := c.WithDefaults()
	if d.Timeout > d.Interval {
		p.Add(prefix+"Health.Timeout", "%v is longer than the interval %v", d.Timeout, effective(c.Interval, d.Interval))
	}
	if c.FailureThreshold < 0 || c.FailureThreshold > 100 {
		p.Add(prefix+"Health.FailureThreshold", "%d is outside 0..100", c.FailureThreshold)
	}
	if c.SuccessThreshold < 0 || c.SuccessThreshold > 100 {
		p.Add(prefix+"Health.SuccessThreshold", "%d is outside 0..100", c.SuccessThreshold)
	}
}

func hasNewlineOrNUL(s string) bool {
	for _, r := range s {
		if r == '\n' || r == '\r' || r == 0 {
			return true
		}
	}
	return false
}

// effective names a setting's effective value for a message: "10s", or "10s (the default)"
// when set was zero and the default was used.
func effective(set, value time.Duration) string {
	if set == 0 {
		return value.String() + " (the default)"
	}
	return value.String()
}
