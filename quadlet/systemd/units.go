package systemd

import (
	"context"
	"errors"
	"fmt"

	"github.com/coreos/go-systemd/v22/dbus"
)

// patternLister is the bus call ListUnits needs (a *dbus.Conn has it).
type patternLister interface {
	ListUnitsByPatternsContext(ctx context.Context, states, patterns []string) ([]dbus.UnitStatus, error)
}

// ListUnits returns the names of the units loaded in the manager, in any state, whose names
// match one of the glob patterns (as `systemctl list-units --all PATTERN`), in one D-Bus call.
// The orchestrator uses it to find podman's transient health-check timers.
func (m *Manager) ListUnits(ctx context.Context, patterns []string) ([]string, error) {
	var sts []dbus.UnitStatus
	err := m.conns.call(ctx, true, func(b bus, _ <-chan struct{}) (err error) {
		lister, ok := b.(patternLister)
		if !ok {
			return errors.New("the connection cannot list units by pattern")
		}
		sts, err = lister.ListUnitsByPatternsContext(ctx, nil, patterns)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("systemd: list units %v: %w", patterns, err)
	}
	names := make([]string, 0, len(sts))
	for _, s := range sts {
		names = append(names, s.Name)
	}
	return names, nil
}
