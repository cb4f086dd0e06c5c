package reconciler

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Keyed runs a pass per key (an app's name) for keys handed to Add, coalescing: a key is queued
// at most once, and Adds that arrive while its pass runs collapse into one follow-up pass. A
// burst of N events over K keys therefore costs at most 2K passes. At most Workers passes run at
// once. The zero value is not usable; call NewKeyed.
type Keyed struct {
	fn   func(ctx context.Context, key string)
	opts KeyedOptions

	mu         sync.Mutex
	queue      []string
	queued     map[string]bool // in queue, or to be requeued when its pass ends
	processing map[string]bool
	wake       chan struct{}
}

// KeyedOptions configure a Keyed queue. The zero value is usable.
type KeyedOptions struct {
	// Workers bounds concurrent passes (default 4).
	Workers int
	// PassTimeout bounds each pass (default DefaultPassTimeout).
	PassTimeout time.Duration
	// Logger receives panics of passes (default slog.Default()).
	Logger *slog.Logger
}

// NewKeyed returns a queue that runs fn for each key.
func NewKeyed(fn func(ctx context.Context, key string), opts KeyedOptions) *Keyed {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.PassTimeout <= 0 {
		opts.PassTimeout = DefaultPassTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Keyed{fn: fn, opts: opts, queued: map[string]bool{}, processing: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// Add requests a pass for key. It never blocks.
func (k *Keyed) Add(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.queued[key] {
		return
	}
	k.queued[key] = true
	if !k.processing[key] { // a key being processed is requeued when its pass ends
		k.queue = append(k.queue, key)
		k.signal()
	}
}

// AddAfter requests a pass for key once d has passed (at once when d <= 0): the retry of a pass
// that had to wait, e.g. for a crash-loop backoff to expire.
func (k *Keyed) AddAfter(key string, d time.Duration) {
	if d <= 0 {
		k.Add(key)
		return
	}
	time.AfterFunc(d, func() { k.Add(key) })
}

func (k *Keyed) signal() {
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// Run processes keys until ctx ends, then waits for in-flight passes (which are not cancelled:
// each runs under its own PassTimeout) and returns ctx's error.
func (k *Keyed) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range k.opts.Workers {
		wg.Go(func() { k.work(ctx) })
	}
	wg.Wait()
	return ctx.Err()
}

func (k *Keyed) work(ctx context.Context) {
	for {
		key, ok := k.next()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-k.wake:
				continue
			}
		}
		k.run(ctx, key)
		k.done(key)
		if ctx.Err() != nil {
			return
		}
	}
}

func (k *Keyed) next() (string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.queue) == 0 {
		return "", false
	}
	key := k.queue[0]
	k.queue = k.queue[1:]
	delete(k.queued, key)
	k.processing[key] = true
	if len(k.queue) > 0 {
		k.signal() // let another worker take the next key
	}
	return key, true
}

func (k *Keyed) done(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.processing, key)
	if k.queued[key] {
		k.queue = append(k.queue, key)
		k.signal()
	}
}

func (k *Keyed) run(ctx context.Context, key string) {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.opts.PassTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			k.opts.Logger.Error("keyed pass panicked", "key", key, "panic", fmt.Sprint(p))
		}
	}()
	k.fn(pctx, key)
}
