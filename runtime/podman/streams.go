//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/skerry-dev/skerry/runtime"
)

// Logs implements runtime.LogReader with podman's container logs: both streams, the last tail
// lines, in the order podman sends them.
func (r *Runtime) Logs(ctx context.Context, name string, tail int) ([]string, error) {
	lines, err := r.logs(ctx, name, tail)
	if err != nil {
		return lines, fmt.Errorf("podman: logs %s: %w", name, mapErr(err, runtime.ErrNotFound))
	}
	if tail > 0 && len(lines) > tail {
		lines = lines[len(lines)-tail:]
	}
	return lines, nil
}

// logs reads the frames of podman's log stream (as the bindings' Logs does: an 8-byte header
// of the stream's number and the frame's length, then the frame) as lines, stdout's and
// stderr's alike, until the stream ends.
func (r *Runtime) logs(ctx context.Context, name string, tail int) ([]string, error) {
	query := url.Values{"stdout": {"true"}, "stderr": {"true"}, "tail": {strconv.Itoa(tail)}}
	resp, err := r.do(ctx, http.MethodGet, "/containers/%s/logs", query, nil, nil, name)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if !resp.IsSuccess() && !resp.IsInformational() {
		return nil, resp.Process(nil)
	}
	var lines []string
	var header [8]byte
	for {
		if _, err := io.ReadFull(resp.Body, header[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return lines, nil
			}
			return lines, err
		}
		frame := make([]byte, binary.BigEndian.Uint32(header[4:]))
		if _, err := io.ReadFull(resp.Body, frame); err != nil {
			return lines, err
		}
		switch header[0] {
		case 0, 1, 2:
			lines = append(lines, string(frame))
		case 3:
			return lines, errors.New("from service in stream: " + string(frame))
		default:
			return lines, fmt.Errorf("unrecognized input header: %d", header[0])
		}
	}
}

// event is what the adapter reads of an entry of podman's event stream (the entities' Event:
// Docker's events.Message and a health status).
type event struct {
	Action string
	Actor  struct {
		Attributes map[string]string
	}
	TimeNano     int64 `json:"timeNano"`
	HealthStatus string
}

// Events implements runtime.EventSource: container events of managed containers, until ctx ends
// or the stream breaks (the channel is closed then; callers reconnect). An error means the
// stream could not be opened.
func (r *Runtime) Events(ctx context.Context) (<-chan runtime.Event, error) {
	query := url.Values{"stream": {"true"}, "filters": {jsonParam(map[string][]string{
		"type":  {"container"},
		"label": {runtime.LabelManaged + "=true"},
	})}}
	resp, err := r.do(ctx, http.MethodGet, "/events", query, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("podman: events: %w", mapErr(err, runtime.ErrNotFound))
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, fmt.Errorf("podman: events: %w", mapErr(resp.Process(nil), runtime.ErrNotFound))
	}
	out := make(chan runtime.Event, 64)
	stop := context.AfterFunc(ctx, func() { resp.Body.Close() }) // ends the decoder's read
	go func() {
		defer close(out)
		defer stop()
		defer resp.Body.Close()
		dec := json.NewDecoder(resp.Body)
		for {
			var e event
			if err := dec.Decode(&e); err != nil {
				return
			}
			ev := runtime.Event{Container: e.Actor.Attributes["name"], App: e.Actor.Attributes[runtime.LabelApp],
				Kind: e.Action, Time: time.Unix(0, e.TimeNano)}
			if e.HealthStatus != "" {
				ev.Health = runtime.ParseHealth(e.HealthStatus)
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
