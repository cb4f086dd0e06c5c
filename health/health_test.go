package health_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/runtime"
)

var t0 = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

func TestTrackerThresholds(t *testing.T) {
	c := health.Check{FailureThreshold: 3, SuccessThreshold: 2}
	S, F := health.Success, health.Fail
	for _, tc := range []struct {
		name    string
		results []health.Result
		want    health.Status
	}{
		{"nothing", nil, health.StatusUnknown},
		{"one success below threshold", []health.Result{S}, health.StatusUnknown},
		{"two successes", []health.Result{S, S}, health.StatusHealthy},
		{"two failures", []health.Result{S, S, F, F}, health.StatusHealthy},
		{"three failures", []health.Result{S, S, F, F, F}, health.StatusUnhealthy},
		{"interrupted failures", []health.Result{S, S, F, F, S, F, F}, health.StatusHealthy},
		{"recovery needs two", []health.Result{F, F, F, S}, health.StatusUnhealthy},
		{"recovered", []health.Result{F, F, F, S, S}, health.StatusHealthy},
	} {
		var tr health.Tracker
		for i, r := range tc.results {
			tr = tr.Observe(c, t0, t0.Add(time.Duration(i+1)*time.Minute), r)
		}
		if tr.Status != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, tr.Status, tc.want)
		}
	}
}

func TestTrackerStartPeriod(t *testing.T) {
	c := health.Check{StartPeriod: time.Minute, FailureThreshold: 1}
	tr := health.Tracker{}.Observe(c, t0, t0.Add(30*time.Second), health.Fail)
	if tr.Status != health.StatusUnknown {
		t.Fatalf("failure within the start period counted: %v", tr.Status)
	}
	if tr = tr.Observe(c, t0, t0.Add(time.Minute), health.Fail); tr.Status != health.StatusUnhealthy {
		t.Fatalf("failure after the start period: %v", tr.Status)
	}
	if tr = (health.Tracker{}).Observe(c, t0, t0.Add(time.Second), health.Success); tr.Status != health.StatusHealthy {
		t.Fatalf("success within the start period must count: %v", tr.Status)
	}
}

// TestTrackerProperty: the committed status changes only to the value of the latest result,
// and only after a streak of that result at least as long as its threshold.
func TestTrackerProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := health.Check{FailureThreshold: rapid.IntRange(1, 5).Draw(t, "ft"), SuccessThreshold: rapid.IntRange(1, 5).Draw(t, "st")}
		results := rapid.SliceOf(rapid.Bool()).Draw(t, "results")
		var tr health.Tracker
		streak := 0
		for i, b := range results {
			r := health.Result(b)
			if i > 0 && results[i-1] == b {
				streak++
			} else {
				streak = 1
			}
			before := tr.Status
			tr = tr.Observe(c, t0, t0.Add(time.Hour), r)
			if tr.Status == before {
				continue
			}
			want, threshold := health.StatusUnhealthy, c.FailureThreshold
			if r == health.Success {
				want, threshold = health.StatusHealthy, c.SuccessThreshold
			}
			if tr.Status != want || streak < threshold {
				t.Fatalf("status %v -> %v after a streak of %d (threshold %d)", before, tr.Status, streak, threshold)
			}
		}
	})
}

func TestCheckDefaultsAndNative(t *testing.T) {
	c := health.Check{Exec: []string{"true"}}.WithDefaults()
	if c.Interval != 10*time.Second || c.Timeout != 5*time.Second || c.FailureThreshold != 3 || c.SuccessThreshold != 1 {
		t.Fatalf("defaults: %+v", c)
	}
	n := health.Check{Exec: []string{"true"}}.Native()
	if n == nil || n.Retries != 3 || n.Interval != 10*time.Second {
		t.Fatalf("native: %+v", n)
	}
	if (health.Check{TCP: "127.0.0.1:1"}).Native() != nil {
		t.Fatal("a TCP check became native")
	}
}

func TestCheckValidation(t *testing.T) {
	for name, c := range map[string]health.Check{
		"two kinds":        {Exec: []string{"true"}, TCP: "127.0.0.1:80"},
		"bad url":          {HTTP: &health.HTTPGet{URL: "ftp://x"}},
		"bad tcp":          {TCP: "nohost"},
		"timeout>interval": {Exec: []string{"true"}, Interval: time.Second, Timeout: 2 * time.Second},
		"negative":         {Exec: []string{"true"}, FailureThreshold: -1},
		"newline":          {Exec: []string{"a\nb"}},
	} {
		var p runtime.Problems
		c.ValidateInto(&p, "")
		if len(p) == 0 {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestHTTPProber(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusOK)
		case "/redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/slow":
			time.Sleep(200 * time.Millisecond)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	for path, want := range map[string]health.Result{"/ok": health.Success, "/redirect": health.Success, "/down": health.Fail} {
		if got, err := (health.HTTPProber{URL: srv.URL + path, Timeout: time.Second}).Probe(ctx); got != want {
			t.Errorf("%s: %v (%v), want %v", path, got, err, want)
		}
	}
	if got, err := (health.HTTPProber{URL: srv.URL + "/slow", Timeout: 50 * time.Millisecond}).Probe(ctx); got != health.Fail || err == nil {
		t.Errorf("slow: %v %v, want a timeout failure", got, err)
	}
}

func TestTCPProber(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if got, err := (health.TCPProber{Address: addr, Timeout: time.Second}).Probe(context.Background()); got != health.Success {
		t.Fatalf("open port: %v %v", got, err)
	}
	ln.Close()
	if got, _ := (health.TCPProber{Address: addr, Timeout: time.Second}).Probe(context.Background()); got != health.Fail {
		t.Fatal("closed port probed as success")
	}
}

func TestProberFor(t *testing.T) {
	if health.ProberFor(health.Check{Exec: []string{"x"}}) != nil || health.ProberFor(health.Check{}) != nil {
		t.Fatal("exec or no check got a host prober")
	}
	if _, ok := health.ProberFor(health.Check{TCP: "127.0.0.1:1"}).(health.TCPProber); !ok {
		t.Fatal("tcp")
	}
	if _, ok := health.ProberFor(health.Check{HTTP: &health.HTTPGet{URL: "http://x/"}}).(health.HTTPProber); !ok {
		t.Fatal("http")
	}
}

// TestValidationNamesEffectiveValues: a check is judged on its effective (defaulted) values,
// and a message names a default the user did not set as such.
func TestValidationNamesEffectiveValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    health.Check
		want string // "" = accepted
	}{
		{"short interval, default timeout", health.Check{Exec: []string{"true"}, Interval: 50 * time.Millisecond}, ""},
		{"long timeout, default interval", health.Check{Exec: []string{"true"}, Timeout: 15 * time.Second}, "Health.Timeout: 15s is longer than the interval 10s (the default)"},
		{"both set", health.Check{Exec: []string{"true"}, Interval: time.Second, Timeout: 2 * time.Second}, "Health.Timeout: 2s is longer than the interval 1s"},
	} {
		var p runtime.Problems
		tc.c.ValidateInto(&p, "")
		got := ""
		if len(p) > 0 {
			got = p[0].Error()
		}
		if got != tc.want || len(p) > 1 {
			t.Errorf("%s: %v, want %q", tc.name, p, tc.want)
		}
	}
	if d := (health.Check{Exec: []string{"true"}, Interval: 50 * time.Millisecond}).WithDefaults(); d.Timeout != 50*time.Millisecond {
		t.Errorf("default timeout of a 50ms interval: %v", d.Timeout)
	}
}
