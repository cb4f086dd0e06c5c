package reconciler

import (
	"context"
	"log/slog"
	"time"
)

// WatchOptions configure Watch. The zero value is usable.
type WatchOptions struct {
	// MinBackoff is the first wait before reopening a broken stream (default 1 s); it doubles up
	// to MaxBackoff (default 30 s) and resets once a stream stayed open for MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives stream failures (default slog.Default()).
	Logger *slog.Logger
}

// Watch keeps a stream of keys open and hands every key to add (typically Keyed.Add, or a
// function calling Loop.Trigger). When open fails or the stream's channel closes, it reopens
// the stream after a backoff. It returns when ctx ends. A broken stream never affects the
// periodic loop, which stays the safety net.
func Watch(ctx context.Context, open func(ctx context.Context) (<-chan string, error), add func(key string), opts WatchOptions) {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	delay := opts.MinBackoff
	for ctx.Err() == nil {
		opened := time.Now()
		keys, err := open(ctx)
		if err != nil {
			opts.Logger.Warn("event stream could not be opened", "err", err, "retry_in", delay)
		} else {
			for key := range keys {
				add(key)
			}
			if ctx.Err() != nil {
				return
			}
			if time.Since(opened) >= opts.MaxBackoff {
				delay = opts.MinBackoff
			}
			opts.Logger.Warn("event stream ended; reopening", "retry_in", delay)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, opts.MaxBackoff)
	}
}
