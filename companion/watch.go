package companion

import (
	"context"
	"slices"
	"sync"

	"github.com/skerry-dev/skerry/reconciler"
)

// WatchUnits reacts to unit state changes until ctx ends: a change of a companion's unit
// (stopped by hand, failed, gone) queues a pass over that unit alone, coalesced, and a broken
// stream is reopened with backoff. changes opens a stream of the changes of the given units; it
// is typically (*systemd.Manager).UnitChanges. The stream is reopened over the new set of
// units when companions are registered or removed. Respawns under Restart= are left to systemd
// and its RestartSec. The periodic Reconcile stays the safety net.
func (m *Manager) WatchUnits(ctx context.Context, changes func(ctx context.Context, units []string) (<-chan string, error)) {
	keyed := reconciler.NewKeyed(func(ctx context.Context, unit string) { m.ReconcileUnit(ctx, unit) },
		reconciler.KeyedOptions{Workers: 1, Logger: m.log})
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { keyed.Run(ctx) })
	for ctx.Err() == nil {
		units, changed := m.watchedUnits()
		setCtx, cancel := context.WithCancel(ctx)
		wg.Go(func() {
			select {
			case <-changed:
			case <-setCtx.Done():
			}
			cancel()
		})
		if len(units) > 0 {
			reconciler.Watch(setCtx, func(ctx context.Context) (<-chan string, error) { return changes(ctx, units) },
				func(unit string) {
					if m.isCompanion(unit) {
						keyed.Add(unit)
					}
				}, reconciler.WatchOptions{Logger: m.log})
		}
		<-setCtx.Done()
		cancel()
	}
}

// watchedUnits returns the companion units to watch and a channel closed when they change.
func (m *Manager) watchedUnits() ([]string, <-chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.watched, m.watchedChanged
}

// noteUnits refreshes watched after apps changed. Called with m.mu held.
func (m *Manager) noteUnits() {
	units := registeredUnits(m.apps)
	if slices.Equal(units, m.watched) {
		return
	}
	m.watched = units
	close(m.watchedChanged)
	m.watchedChanged = make(chan struct{})
}

func (m *Manager) isCompanion(unit string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := slices.BinarySearch(m.watched, unit)
	return ok
}
