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
//
// When Run's context ends, passes in flight get Grace, then their context is cancelled; keys
// still queued are dropped, and AddAfter timers are stopped (none fires after Run returned).
type Keyed struct {
	fn   func(ctx context.Context, key string)
	opts KeyedOptions

	mu         sync.Mutex
	queue      []string
	queued     map[string]bool // in queue, or to be requeued when its pass ends
	processing map[string]bool
	wake       chan struct{}
	// timers are the pending AddAfter timers; stopped when Run returns.
	timers map[*time.Timer]bool
	// stopped is set when Run has returned: AddAfter arms nothing then.
	stopped bool
}

// KeyedOptions configure a Keyed queue. The zero value is usable.
type KeyedOptions struct {
	// Workers bounds concurrent passes (default 4).
	Workers int
	// PassTimeout bounds each pass (default DefaultPassTimeout).
	PassTimeout time.Duration
	// Grace is how long passes in flight when Run's context ends may go on before their
	// context is cancelled (cause ErrShutdown). Zero: the context's WithShutdownGrace value,
	// else DefaultGrace; negative: none.
	Grace time.Duration
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
	return &Keyed{fn: fn, opts: opts, queued: map[string]bool{}, processing: map[string]bool{},
		wake: make(chan struct{}, 1), timers: map[*time.Timer]bool{}}
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
// that had to wait, e.g. for a crash-loop backoff to expire. After Run has returned it does
// nothing, and a pending AddAfter is cancelled when Run returns.
func (k *Keyed) AddAfter(key string, d time.Duration) {
	if d <= 0 {
		k.Add(key)
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		k.mu.Lock()
		armed := k.timers[t]
		delete(k.timers, t)
		k.mu.Unlock()
		if armed {
			k.Add(key)
		}
	})
	k.timers[t] = true
}

func (k *Keyed) signal() {
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// Run processes keys until ctx ends, then waits for in-flight passes (each gets Grace, then its
// context is cancelled), stops the pending AddAfter timers and returns ctx's error. Call it
// once.
func (k *Keyed) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range k.opts.Workers {
		wg.Go(func() { k.work(ctx) })
	}
	wg.Wait()
	k.mu.Lock()
	k.stopped = true
	for t := range k.timers {
		t.Stop()
	}
	clear(k.timers)
	k.mu.Unlock()
	return ctx.Err()
}

func (k *Keyed) work(ctx context.Context) {
	for ctx.Err() == nil {
		key, ok := k.next()
		if !ok {
			select {
			case <-ctx.Done():
			case <-k.wake:
			}
			continue
		}
		k.run(ctx, key)
		k.done(key)
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
	pctx, cancel := passContext(ctx, k.opts.PassTimeout, graceOf(ctx, k.opts.Grace))
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			k.opts.Logger.Error("keyed pass panicked", "key", key, "panic", fmt.Sprint(p))
		}
	}()
	k.fn(pctx, key)
}
