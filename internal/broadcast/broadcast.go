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
	subs []chan T
}

// Subscribe returns a channel of the values sent from now until ctx ends; it is closed then. A
// subscriber more than buffer values behind loses values.
func (b *Broadcaster[T]) Subscribe(ctx context.Context, buffer int) <-chan T {
	in := make(chan T, buffer)
	b.mu.Lock()
	b.subs = append(b.subs, in)
	b.mu.Unlock()
	out := make(chan T)
	go func() {
		defer close(out)
		defer func() {
			b.mu.Lock()
			b.subs = slices.DeleteFunc(b.subs, func(c chan T) bool { return c == in })
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
		select {
		case s <- v:
		default:
		}
	}
}
