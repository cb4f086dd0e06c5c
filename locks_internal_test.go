package skerry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/skerry-dev/skerry/orchestrator"
)

// TestAppLocksAreDroppedWhenUnused checks that lockApp serializes the calls on one app and that
// s.locks holds an app's lock only while a call holds or waits for it, also when a waiter gives
// up: a daemon that installs and uninstalls many apps over its life keeps no lock per name.
func TestAppLocksAreDroppedWhenUnused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &Supervisor{locks: map[string]*appLock{}}
		unlock, err := s.lockApp(t.Context(), "bitcoind")
		if err != nil {
			t.Fatal(err)
		}
		gaveUp, cancel := context.WithCancel(t.Context())
		errs := make(chan error, 1)
		go func() {
			_, err := s.lockApp(gaveUp, "bitcoind")
			errs <- err
		}()
		got := make(chan func(), 1)
		go func() {
			u, err := s.lockApp(t.Context(), "bitcoind")
			if err != nil {
				t.Error(err)
			}
			got <- u
		}()
		synctest.Wait()
		if n := s.locks["bitcoind"].users; n != 3 {
			t.Fatalf("users of the held lock = %d, want 3 (holder and two waiters)", n)
		}
		cancel()
		if err := <-errs; !errors.Is(err, orchestrator.ErrInterrupted) {
			t.Fatalf("a waiter whose ctx ended: %v, want ErrInterrupted", err)
		}
		select {
		case <-got:
			t.Fatal("the second waiter got the lock while it was held")
		default:
		}
		unlock()
		unlock() // a second call does nothing
		second := <-got
		if n := s.locks["bitcoind"].users; n != 1 {
			t.Fatalf("users after the hand-over = %d, want 1", n)
		}
		second()
		for i := range 100 {
			u, err := s.lockApp(t.Context(), fmt.Sprintf("app%d", i))
			if err != nil {
				t.Fatal(err)
			}
			u()
		}
		if len(s.locks) != 0 {
			t.Fatalf("locks kept after every call ended: %d, want 0", len(s.locks))
		}
	})
}
