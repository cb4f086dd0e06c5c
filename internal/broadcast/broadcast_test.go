package broadcast

import (
	"context"
	"testing"
	"testing/synctest"
)

func TestBroadcast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b Broadcaster[int]
		ctx, cancel := context.WithCancel(context.Background())
		fast, slow := b.Subscribe(ctx, 10, nil), b.Subscribe(ctx, 1, nil)
		odd := b.Subscribe(ctx, 10, func(i int) bool { return i%2 == 1 })
		synctest.Wait()
		for i := range 3 {
			b.Send(i) // never blocks, although slow is not read
		}
		for want := range 3 {
			if got := <-fast; got != want {
				t.Fatalf("fast got %d, want %d", got, want)
			}
		}
		if got := <-slow; got != 0 {
			t.Fatalf("slow got %d", got)
		}
		if got := <-odd; got != 1 {
			t.Fatalf("odd got %d, want 1", got)
		}
		cancel()
		for range fast {
		}
		for range slow {
		}
		for got := range odd {
			t.Fatalf("odd got %d after 1", got)
		}
		synctest.Wait()
		if len(b.subs) != 0 {
			t.Fatalf("%d subscribers left after cancel", len(b.subs))
		}
	})
}
