package reconciler_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/skerry-dev/skerry/reconciler"
)

// passLog records keyed passes; a pass takes a second of (fake) time.
type passLog struct {
	mu         sync.Mutex
	runs       map[string]int
	inFlight   int
	maxInFight int
}

func (p *passLog) fn(ctx context.Context, key string) {
	p.mu.Lock()
	p.runs[key]++
	p.inFlight++
	p.maxInFight = max(p.maxInFight, p.inFlight)
	p.mu.Unlock()
	time.Sleep(time.Second)
	p.mu.Lock()
	p.inFlight--
	p.mu.Unlock()
	if key == "panics" {
		panic("bug")
	}
}

func TestKeyedCoalescesBursts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &passLog{runs: map[string]int{}}
		k := reconciler.NewKeyed(p.fn, reconciler.KeyedOptions{Workers: 3, Logger: quiet})
		ctx, cancel := context.WithCancel(context.Background())
		// 50 containers die at once, each reported 5 times (died, stop, cleanup, ...), before
		// the queue gets to run: one pass each.
		for range 5 {
			for i := range 50 {
				k.Add(fmt.Sprintf("app%02d", i))
			}
		}
		done := make(chan error)
		go func() { done <- k.Run(ctx) }()
		time.Sleep(time.Minute)
		synctest.Wait()
		total := 0
		for key, n := range p.runs {
			if n != 1 {
				t.Errorf("%s ran %d times, want 1", key, n)
			}
			total += n
		}
		if total != 50 || p.maxInFight != 3 {
			t.Fatalf("%d passes, at most %d at once; want 50 and 3", total, p.maxInFight)
		}
		// Events during a pass of a key coalesce into exactly one follow-up pass.
		k.Add("lnd")
		time.Sleep(100 * time.Millisecond) // the pass for lnd is running
		for range 10 {
			k.Add("lnd")
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if p.runs["lnd"] != 2 {
			t.Fatalf("lnd ran %d times, want 2 (one, then one follow-up)", p.runs["lnd"])
		}
		// A burst while the queue runs: at most two passes per key (one, then one follow-up).
		for i := range 100 {
			k.Add(fmt.Sprintf("burst%02d", i%20))
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		for i := range 20 {
			if n := p.runs[fmt.Sprintf("burst%02d", i)]; n < 1 || n > 2 {
				t.Fatalf("burst%02d ran %d times, want 1 or 2", i, n)
			}
		}
		// A panicking pass does not stop the queue.
		k.Add("panics")
		k.Add("after")
		time.Sleep(time.Minute)
		synctest.Wait()
		if p.runs["after"] != 1 {
			t.Fatal("the queue stopped after a panic")
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
	})
}

func TestWatchReopensWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var opens []time.Duration
		start := time.Now()
		var mu sync.Mutex
		var got []string
		open := func(ctx context.Context) (<-chan string, error) {
			opens = append(opens, time.Since(start))
			switch len(opens) {
			case 1, 2:
				return nil, errors.New("socket gone")
			case 3:
				ch := make(chan string, 2)
				ch <- "bitcoind"
				ch <- "lnd"
				close(ch) // the stream breaks after two events
				return ch, nil
			}
			ch := make(chan string)
			go func() { <-ctx.Done(); close(ch) }()
			return ch, nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			reconciler.Watch(ctx, open, func(k string) { mu.Lock(); got = append(got, k); mu.Unlock() },
				reconciler.WatchOptions{MinBackoff: time.Second, MaxBackoff: 4 * time.Second, Logger: quiet})
			close(done)
		}()
		time.Sleep(time.Minute)
		synctest.Wait()
		want := []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second}
		if fmt.Sprint(opens) != fmt.Sprint(want) {
			t.Fatalf("opened at %v, want %v (1 s, 2 s, 4 s backoff)", opens, want)
		}
		if fmt.Sprint(got) != "[bitcoind lnd]" {
			t.Fatalf("keys %v", got)
		}
		cancel()
		<-done
	})
}

func TestKeyedShutdownIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		causes := map[string]error{}
		ran := map[string]bool{}
		k := reconciler.NewKeyed(func(ctx context.Context, key string) {
			mu.Lock()
			ran[key] = true
			mu.Unlock()
			select {
			case <-time.After(time.Hour): // a readiness wait that would outlive any stop timeout
			case <-ctx.Done():
			}
			mu.Lock()
			causes[key] = context.Cause(ctx)
			mu.Unlock()
		}, reconciler.KeyedOptions{Workers: 2, Logger: quiet})
		ctx, cancel := context.WithCancel(reconciler.WithShutdownGrace(context.Background(), 5*time.Second))
		done := make(chan error, 1)
		go func() { done <- k.Run(ctx) }()
		k.Add("bitcoind")
		k.Add("lnd")
		k.Add("queued") // both workers busy: still queued at shutdown
		synctest.Wait()
		cancel()
		cancelled := time.Now()
		<-done
		if took := time.Since(cancelled); took != 5*time.Second {
			t.Fatalf("Run returned %v after the cancel, want the 5 s grace", took)
		}
		if !errors.Is(causes["bitcoind"], reconciler.ErrShutdown) || !errors.Is(causes["lnd"], reconciler.ErrShutdown) {
			t.Fatalf("pass contexts ended with %v, want ErrShutdown", causes)
		}
		if ran["queued"] {
			t.Fatal("a key queued at shutdown got a pass")
		}
	})
}
