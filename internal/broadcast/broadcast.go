// Package broadcast fans values out to subscribers without ever blocking the sender: what the
// fakes need to stream events the way a real event source does (a slow reader loses events,
// the source never stalls).
package broadcast

import (
	"context"
	"slices"
	"sync"
)

// Broadcaster sends each value to every current subscriber. The zero value is ready to use.
type Broadcaster[T any] struct {
	mu   sync.Mutex
	subs []subscriber[T]
}

type subscriber[T any] struct {
	in   chan T
	keep func(T) bool
}

// Subscribe returns a channel of the values sent from now until ctx ends that keep accepts (all
// of them when keep is nil); it is closed then. A subscriber more than buffer values behind
// loses values.
func (b *Broadcaster[T]) Subscribe(ctx context.Context, buffer int, keep func(T) bool) <-chan T {
	in := make(chan T, buffer)
	b.mu.Lock()
	b.subs = append(b.subs, subscriber[T]{in, keep})
	b.mu.Unlock()
	out := make(chan T)
	go func() {
		defer close(out)
		defer func() {
			b.mu.Lock()
			b.subs = slices.DeleteFunc(b.subs, func(s subscriber[T]) bool { return s.in == in })
			b.mu.Unlock()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case v := <-in:
				select {
				case out <- v:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

// Send offers v to every subscriber without blocking.
func (b *Broadcaster[T]) Send(v T) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.subs {
		if s.keep != nil && !s.keep(v) {
			continue
		}
		select {
		case s.in <- v:
		default:
		}
	}
}
