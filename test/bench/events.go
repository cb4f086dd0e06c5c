//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/skerry-dev/skerry/runtime"
)

// recorder follows podman's event stream and keeps, per container name, the times (podman's
// own timestamps) of its starts and passing checks. It is how every peer's "back and healthy"
// and "all healthy" are measured the same way, without polling the engine (polls would load
// the two cores everyone shares). Delivery lags (journald), the timestamps do not.
type recorder struct {
	mu      sync.Mutex
	starts  map[string][]time.Time
	healthy map[string][]time.Time
	stop    context.CancelFunc
	done    chan struct{}
}

// rawEvent is the part of a libpod event the recorder reads.
type rawEvent struct {
	Action       string `json:"Action"`
	TimeNano     int64  `json:"timeNano"`
	HealthStatus string `json:"HealthStatus"`
	Actor        struct {
		Attributes map[string]string `json:"Attributes"`
	} `json:"Actor"`
}

// record opens podman's event stream over the REST API, every container's (the runtime's own
// stream has skerry's containers only, and the peers' count too).
func (e *env) record(ctx context.Context) (*recorder, error) {
	ctx, stop := context.WithCancel(ctx)
	q := url.Values{"stream": {"true"}, "filters": {`{"type":["container"]}`}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://d/v5.0.0/libpod/events?"+q.Encode(), nil)
	resp, err := e.http.Do(req)
	if err != nil {
		stop()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		stop()
		return nil, fmt.Errorf("events: %s", resp.Status)
	}
	r := &recorder{starts: map[string][]time.Time{}, healthy: map[string][]time.Time{}, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		defer resp.Body.Close()
		dec := json.NewDecoder(resp.Body)
		for {
			var ev rawEvent
			if err := dec.Decode(&ev); err != nil {
				return
			}
			name, at := ev.Actor.Attributes["name"], time.Unix(0, ev.TimeNano)
			r.mu.Lock()
			switch {
			case ev.Action == "start":
				r.starts[name] = append(r.starts[name], at)
			case ev.Action == "health_status" && runtime.ParseHealth(ev.HealthStatus) == runtime.HealthHealthy:
				r.healthy[name] = append(r.healthy[name], at)
			}
			r.mu.Unlock()
		}
	}()
	return r, nil
}

func (r *recorder) close() {
	r.stop()
	<-r.done
}

// back returns when name came back after since: the first passing check recorded after a start
// after since (a check of the killed run cannot count). ok is false while it has not.
func (r *recorder) back(name string, since time.Time) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var started time.Time
	for _, t := range r.starts[name] {
		if t.After(since) {
			started = t
			break
		}
	}
	if started.IsZero() {
		return time.Time{}, false
	}
	for _, t := range r.healthy[name] {
		if !t.Before(started) {
			return t, true
		}
	}
	return time.Time{}, false
}

// waitBack waits until every name came back after since and returns the time from since to the
// last of them.
func (r *recorder) waitBack(ctx context.Context, names []string, since time.Time) (time.Duration, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var last time.Time
		all := true
		for _, n := range names {
			t, ok := r.back(n, since)
			if !ok {
				all = false
				break
			}
			if t.After(last) {
				last = t
			}
		}
		if all {
			return last.Sub(since), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("not back within 2 minutes of %v: %v", since.Format(time.TimeOnly), names)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
