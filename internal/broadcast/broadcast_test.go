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
		fast, slow := b.Subscribe(ctx, 10), b.Subscribe(ctx, 1)
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
		cancel()
		for range fast {
		}
		for range slow {
		}
		synctest.Wait()
		if len(b.subs) != 0 {
			t.Fatalf("%d subscribers left after cancel", len(b.subs))
		}
	})
}
