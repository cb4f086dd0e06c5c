// Package systemd drives a systemd manager (the user manager by default) over D-Bus for skerry:
// daemon-reload, start, stop, restart, reset-failed and unit state. Job results are waited for
// and turned into errors; no D-Bus channel escapes to callers.
//
// Quadlet-generated units cannot be enabled through EnableUnitFiles: they are enabled by an
// [Install] WantedBy= line in the .container file plus a daemon-reload, and disabled by stopping
// them, deleting the file and reloading.
package systemd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"

	"github.com/skerry-dev/skerry/quadlet"
)

// Scope selects the manager.
type Scope int

// The scopes. The zero value is the user manager, where rootless Quadlet units live.
const (
	User Scope = iota
	System
)

// Manager is a connection to one systemd manager. It is safe for concurrent use, and it
// outlives the bus: a call that finds its connection lost (the bus restarted, the manager
// re-executed) dials a new one, and an idempotent call (all but Restart) that lost its
// connection midway runs once more over the new one. While the bus cannot be reached, calls
// fail at once with an error wrapping quadlet.ErrUnavailable, and a new dial is tried after a
// backoff (100 ms doubling to 2 s). Close it when done: nothing else closes it.
type Manager struct {
	conns conns
	open  opener
}

// New connects to the manager of scope. The user manager is reached on
// $DBUS_SESSION_BUS_ADDRESS, else /run/user/<uid>/bus. ctx bounds the connection attempt
// only: the Manager keeps working after ctx ends, until Close. An error wraps
// quadlet.ErrUnavailable when the bus could not be reached.
func New(ctx context.Context, scope Scope) (*Manager, error) {
	if scope != User && scope != System {
		return nil, fmt.Errorf("systemd: unknown scope %d", scope)
	}
	return newManager(ctx, busDialer(openBus(scope)), openBus(scope))
}

// newManager connects with dial; UnitChanges streams are opened with open.
func newManager(ctx context.Context, dial dialer, open opener) (*Manager, error) {
	m := &Manager{conns: conns{dial: dial}, open: open}
	if _, err := m.conns.get(ctx); err != nil {
		return nil, fmt.Errorf("systemd: %w", err)
	}
	return m, nil
}

// Close closes the connection; later calls fail with quadlet.ErrUnavailable. Open UnitChanges
// streams end with their own contexts.
func (m *Manager) Close() { m.conns.close() }

// Reload is `systemctl daemon-reload`: it re-runs the generators, Quadlet's among them.
func (m *Manager) Reload(ctx context.Context) error {
	err := m.conns.call(ctx, true, func(b bus, _ <-chan struct{}) error { return b.ReloadContext(ctx) })
	if err != nil {
		return fmt.Errorf("systemd: daemon-reload: %w", err)
	}
	return nil
}

// Start starts unit and waits for the job's result (for a Notify=healthy Quadlet unit: until
// the container is healthy, or TimeoutStartSec).
func (m *Manager) Start(ctx context.Context, unit string) error {
	return m.job(ctx, "start", unit, true, bus.StartUnitContext)
}

// Stop stops unit and waits for the job's result. Stopping a unit systemd does not know is
// not an error.
func (m *Manager) Stop(ctx context.Context, unit string) error {
	err := m.job(ctx, "stop", unit, true, bus.StopUnitContext)
	if errors.Is(err, quadlet.ErrNoSuchUnit) {
		return nil
	}
	return err
}

// Restart restarts unit (starting it when inactive) and waits for the job's result. It is not
// repeated over a new connection when the connection is lost midway (that could restart the
// unit twice): the error then wraps quadlet.ErrUnavailable.
func (m *Manager) Restart(ctx context.Context, unit string) error {
	return m.job(ctx, "restart", unit, false, bus.RestartUnitContext)
}

// ResetFailed clears unit's failed state and start-limit counter. A unit systemd does not know
// is not an error.
func (m *Manager) ResetFailed(ctx context.Context, unit string) error {
	err := m.conns.call(ctx, true, func(b bus, _ <-chan struct{}) error { return b.ResetFailedUnitContext(ctx, unit) })
	if err != nil && !errors.Is(err, quadlet.ErrNoSuchUnit) {
		return fmt.Errorf("systemd: reset-failed %s: %w", unit, err)
	}
	return nil
}

// States returns the state of each unit in one D-Bus call. Units systemd does not know are
// reported with LoadState "not-found" and ActiveState "inactive".
func (m *Manager) States(ctx context.Context, units []string) (map[string]quadlet.UnitState, error) {
	if len(units) == 0 {
		return map[string]quadlet.UnitState{}, nil
	}
	var sts []dbus.UnitStatus
	err := m.conns.call(ctx, true, func(b bus, _ <-chan struct{}) (err error) {
		sts, err = b.ListUnitsByNamesContext(ctx, units)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("systemd: list units: %w", err)
	}
	out := make(map[string]quadlet.UnitState, len(units))
	for _, u := range units {
		out[u] = quadlet.UnitState{Name: u, LoadState: "not-found", ActiveState: "inactive", SubState: "dead"}
	}
	for _, s := range sts {
		out[s.Name] = quadlet.UnitState{Name: s.Name, LoadState: s.LoadState, ActiveState: s.ActiveState, SubState: s.SubState}
	}
	return out, nil
}

// Unit returns the full state of one unit, including NRestarts and NeedDaemonReload. A unit
// systemd does not know is reported with LoadState "not-found".
func (m *Manager) Unit(ctx context.Context, unit string) (quadlet.UnitState, error) {
	var st quadlet.UnitState
	err := m.conns.call(ctx, true, func(b bus, _ <-chan struct{}) error {
		props, err := b.GetUnitPropertiesContext(ctx, unit)
		if err != nil {
			return fmt.Errorf("properties: %w", err)
		}
		str := func(k string) string { v, _ := props[k].(string); return v }
		st = quadlet.UnitState{Name: unit, LoadState: str("LoadState"), ActiveState: str("ActiveState"), SubState: str("SubState")}
		st.NeedDaemonReload, _ = props["NeedDaemonReload"].(bool)
		if strings.HasSuffix(unit, ".service") && st.LoadState == "loaded" {
			p, err := b.GetUnitTypePropertyContext(ctx, unit, "Service", "NRestarts")
			if err != nil {
				return fmt.Errorf("NRestarts: %w", err)
			}
			st.NRestarts, _ = p.Value.Value().(uint32)
		}
		return nil
	})
	if err != nil {
		return quadlet.UnitState{}, fmt.Errorf("systemd: unit %s: %w", unit, err)
	}
	return st, nil
}

// UnitChanges streams the names of those of units whose active or sub-state changed, until ctx
// ends; the channel is closed then. It listens to systemd's PropertiesChanged signals on a
// connection of its own, with one match rule per unit, so the bus delivers only these units'
// signals (not those of the transient units podman runs a health check in, about 30 a second on
// a node of 50 health-checked apps), and it reads the change from the signal itself: no polling,
// and no D-Bus call per signal. Changes are for triggering passes, never for tracking state.
//
// The channel is closed too when that connection is lost (the bus restarted): open the stream
// again then, as companion.Manager.WatchUnits does. An error opening it wraps
// quadlet.ErrUnavailable when the bus cannot be reached.
func (m *Manager) UnitChanges(ctx context.Context, units []string) (<-chan string, error) {
	// The connection lives on sctx, ended with the stream; opening it (connect, match rules,
	// Subscribe) must finish within dialTimeout, so that a hung bus cannot hold the caller.
	sctx, end := context.WithCancel(ctx)
	setup := time.AfterFunc(dialTimeout, end)
	fail := func(err error) (<-chan string, error) {
		setup.Stop()
		end()
		if connErr(err) || ctx.Err() == nil && sctx.Err() != nil {
			return nil, fmt.Errorf("systemd: unit changes: %w: %w", quadlet.ErrUnavailable, err)
		}
		return nil, fmt.Errorf("systemd: unit changes: %w", mapErr(err))
	}
	conn, err := m.open(sctx)
	if err != nil {
		return fail(err)
	}
	for _, u := range units {
		if err := conn.AddMatchSignalContext(sctx, godbus.WithMatchObjectPath(unitPath(u)),
			godbus.WithMatchInterface("org.freedesktop.DBus.Properties"), godbus.WithMatchMember("PropertiesChanged"),
			godbus.WithMatchArg(0, "org.freedesktop.systemd1.Unit")); err != nil {
			return fail(err)
		}
	}
	// systemd emits unit signals only while some client is subscribed.
	if err := conn.Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1").
		CallWithContext(sctx, "org.freedesktop.systemd1.Manager.Subscribe", 0).Store(); err != nil {
		return fail(err)
	}
	if !setup.Stop() {
		return fail(context.DeadlineExceeded)
	}
	sigs := make(chan *godbus.Signal, 256)
	conn.Signal(sigs)
	out := make(chan string)
	done := conn.Context().Done() // ctx ended, or the connection is lost
	go func() {
		defer close(out)
		defer end()
		defer conn.Close()
		for {
			var sig *godbus.Signal
			select {
			case <-done:
				return
			case s, ok := <-sigs:
				if !ok { // the connection is lost
					return
				}
				sig = s
			}
			if sig == nil || len(sig.Body) < 2 {
				continue
			}
			changed, _ := sig.Body[1].(map[string]godbus.Variant)
			_, active := changed["ActiveState"]
			_, sub := changed["SubState"]
			name := unitName(sig.Path)
			if (!active && !sub) || name == "" {
				continue
			}
			select {
			case out <- name:
			case <-done:
				return
			}
		}
	}()
	return out, nil
}

// unitPath is the object path of unit: lnd-ui.service is
// /org/freedesktop/systemd1/unit/lnd_2dui_2eservice.
func unitPath(unit string) godbus.ObjectPath {
	return godbus.ObjectPath("/org/freedesktop/systemd1/unit/" + dbus.PathBusEscape(unit))
}

// unitName turns a unit's object path (/org/freedesktop/systemd1/unit/lnd_2dui_2eservice) back
// into its name (lnd-ui.service), undoing the bus escaping ("_" + two hex digits).
func unitName(path godbus.ObjectPath) string {
	esc, ok := strings.CutPrefix(string(path), "/org/freedesktop/systemd1/unit/")
	if !ok {
		return ""
	}
	var b strings.Builder
	for i := 0; i < len(esc); i++ {
		if esc[i] == '_' && i+2 < len(esc) {
			if v, err := strconv.ParseUint(esc[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(esc[i])
	}
	return b.String()
}

type jobFunc func(b bus, ctx context.Context, name, mode string, ch chan<- string) (int, error)

// job enqueues a job in "replace" mode and waits for its result, for ctx, or for the loss of
// the connection. The result channel is buffered, so go-systemd's dispatcher never blocks on
// it even when the wait ended first. retry: the job is idempotent (see conns.call).
func (m *Manager) job(ctx context.Context, verb, unit string, retry bool, f jobFunc) error {
	err := m.conns.call(ctx, retry, func(b bus, lost <-chan struct{}) error {
		ch := make(chan string, 1)
		if _, err := f(b, ctx, unit, "replace", ch); err != nil {
			return err
		}
		select {
		case result := <-ch:
			if result == "done" {
				return nil
			}
			return fmt.Errorf("job %s: %w", result, quadlet.ErrJobFailed)
		case <-lost:
			return errLost
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if err != nil {
		return fmt.Errorf("systemd: %s %s: %w", verb, unit, err)
	}
	return nil
}
