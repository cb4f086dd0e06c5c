package systemd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"

	"github.com/skerry-dev/skerry/quadlet"
)

// bus is the part of go-systemd's *dbus.Conn a Manager calls. Tests put a fake behind it.
type bus interface {
	ReloadContext(ctx context.Context) error
	StartUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error)
	StopUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error)
	RestartUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error)
	ResetFailedUnitContext(ctx context.Context, name string) error
	ListUnitsByNamesContext(ctx context.Context, units []string) ([]dbus.UnitStatus, error)
	GetUnitPropertiesContext(ctx context.Context, unit string) (map[string]any, error)
	GetUnitTypePropertyContext(ctx context.Context, unit, unitType, property string) (*dbus.Property, error)
	Close()
}

// link is one connection to the manager: its calls, and a channel closed once it is lost (the
// bus went away or closed it) or closed.
type link struct {
	bus   bus
	lost  <-chan struct{}
	close func()
}

// dead reports whether the link is lost.
func (l *link) dead() bool {
	select {
	case <-l.lost:
		return true
	default:
		return false
	}
}

// dialer opens a link. ctx bounds the dial only, never the link's life.
type dialer func(ctx context.Context) (*link, error)

// opener opens a raw, authenticated connection to the manager's bus that lives until ctx ends.
type opener func(ctx context.Context) (*godbus.Conn, error)

// openBus returns the opener of scope's bus: the user manager's on $DBUS_SESSION_BUS_ADDRESS,
// else /run/user/<uid>/bus (never an autolaunched bus), the system manager's on the system bus.
// Authentication is EXTERNAL with the numeric uid, as go-systemd does (no user-name lookup).
func openBus(scope Scope) opener {
	return func(ctx context.Context) (*godbus.Conn, error) {
		open := godbus.SessionBusPrivateNoAutoStartup
		if scope == System {
			open = godbus.SystemBusPrivate
		}
		conn, err := open(godbus.WithContext(ctx))
		if err != nil {
			return nil, err
		}
		if err := conn.Auth([]godbus.Auth{godbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
			conn.Close()
			return nil, err
		}
		if err := conn.Hello(); err != nil {
			conn.Close()
			return nil, err
		}
		return conn, nil
	}
}

// busDialer dials go-systemd's pair of connections (calls and job signals) with open. Both
// live on a context of their own, cancelled when either is lost or when the link is closed;
// ctx ending during the dial cancels it too, so a hung bus cannot hold the dial.
func busDialer(open opener) dialer {
	return func(ctx context.Context) (*link, error) {
		lctx, cancel := context.WithCancel(context.Background())
		stop := context.AfterFunc(ctx, cancel)
		c, err := dbus.NewConnection(func() (*godbus.Conn, error) {
			conn, err := open(lctx)
			if err == nil {
				context.AfterFunc(conn.Context(), cancel) // one connection lost: the link is
			}
			return conn, err
		})
		if !stop() { // ctx ended during the dial
			if err == nil {
				c.Close()
			}
			cancel()
			return nil, ctx.Err()
		}
		if err != nil {
			cancel()
			return nil, err
		}
		return &link{bus: c, lost: lctx.Done(), close: func() { cancel(); c.Close() }}, nil
	}
}

// Re-dial backoff after a failed dial: calls fail at once with ErrUnavailable until it passes.
// A dial (connect, authenticate, Hello) that takes longer than dialTimeout fails.
const (
	minRedial   = 100 * time.Millisecond
	maxRedial   = 2 * time.Second
	dialTimeout = 10 * time.Second
)

// conns holds a Manager's current link and re-dials it when lost.
type conns struct {
	dial dialer

	mu      sync.Mutex
	cur     *link
	dialing chan struct{} // closed when the dial in flight ends; nil when none is
	closed  bool
	lastErr error
	wait    time.Duration // the current backoff
	next    time.Time     // no dial before
}

// errClosed: the Manager was closed by its owner.
var errClosed = errors.New("manager closed")

// errLost: the link was lost while a job's result was awaited.
var errLost = errors.New("connection lost")

// get returns a live link, dialling one when there is none (at most one dial at a time; others
// wait for it or for their ctx). Within the backoff after a failed dial it fails at once.
func (c *conns) get(ctx context.Context) (*link, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, fmt.Errorf("%w: %w", quadlet.ErrUnavailable, errClosed)
		}
		if c.cur != nil && !c.cur.dead() {
			l := c.cur
			c.mu.Unlock()
			return l, nil
		}
		c.dropLocked(c.cur)
		if ch := c.dialing; ch != nil {
			c.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if time.Now().Before(c.next) {
			err := c.lastErr
			c.mu.Unlock()
			return nil, fmt.Errorf("%w: reconnect failed: %w", quadlet.ErrUnavailable, err)
		}
		ch := make(chan struct{})
		c.dialing = ch
		c.mu.Unlock()

		dctx, cancel := context.WithTimeout(ctx, dialTimeout)
		l, err := c.dial(dctx)
		cancel()

		c.mu.Lock()
		c.dialing = nil
		close(ch)
		switch {
		case err != nil && ctx.Err() != nil: // the caller gave up; not the bus's failure
			c.mu.Unlock()
			return nil, ctx.Err()
		case err != nil:
			c.wait = min(max(2*c.wait, minRedial), maxRedial)
			c.next = time.Now().Add(c.wait)
			c.lastErr = err
			c.mu.Unlock()
			return nil, fmt.Errorf("%w: connect: %w", quadlet.ErrUnavailable, err)
		case c.closed:
			c.mu.Unlock()
			l.close()
			return nil, fmt.Errorf("%w: %w", quadlet.ErrUnavailable, errClosed)
		}
		c.cur, c.wait, c.next, c.lastErr = l, 0, time.Time{}, nil
		c.mu.Unlock()
		return l, nil
	}
}

// dropLocked closes l and forgets it when it is the current link. Called with c.mu held.
func (c *conns) dropLocked(l *link) {
	if l != nil && c.cur == l {
		c.cur = nil
		l.close()
	}
}

// lost reports whether err (from a call over l) means that l is lost, and drops l if so.
func (c *conns) lost(l *link, err error) bool {
	if !connErr(err) {
		if _, remote := remoteName(err); remote || !l.dead() {
			return false
		}
	}
	c.mu.Lock()
	c.dropLocked(l)
	c.mu.Unlock()
	return true
}

// close closes the current link; later calls fail with ErrUnavailable.
func (c *conns) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.dropLocked(c.cur)
}

// call runs f over a live link. When the link turns out to be lost, the error wraps
// quadlet.ErrUnavailable; if retry is set (f is idempotent), f runs once more over a fresh link
// first.
func (c *conns) call(ctx context.Context, retry bool, f func(b bus, lost <-chan struct{}) error) error {
	for attempt := 0; ; attempt++ {
		l, err := c.get(ctx)
		if err != nil {
			return err
		}
		err = f(l.bus, l.lost)
		if err == nil || ctx.Err() != nil || !c.lost(l, err) {
			return mapErr(err)
		}
		if !retry || attempt > 0 {
			return fmt.Errorf("%w: %w", quadlet.ErrUnavailable, err)
		}
	}
}

// connErr reports whether err says the connection itself failed.
func connErr(err error) bool {
	if name, _ := remoteName(err); name == "org.freedesktop.DBus.Error.Disconnected" {
		return true
	}
	for _, e := range []error{godbus.ErrClosed, errLost, io.EOF, io.ErrUnexpectedEOF, net.ErrClosed, syscall.EPIPE, syscall.ECONNRESET} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// mapErr turns systemd's "no such unit" D-Bus errors into quadlet.ErrNoSuchUnit, and the bus's
// own "nobody answers" errors (the manager is not on the bus, or does not reply) into
// quadlet.ErrUnavailable.
func mapErr(err error) error {
	name, _ := remoteName(err)
	switch name {
	case "org.freedesktop.systemd1.NoSuchUnit", "org.freedesktop.systemd1.LoadFailed":
		return fmt.Errorf("%w: %w", quadlet.ErrNoSuchUnit, err)
	case "org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner",
		"org.freedesktop.DBus.Error.NoReply", "org.freedesktop.DBus.Error.Disconnected":
		return fmt.Errorf("%w: %w", quadlet.ErrUnavailable, err)
	}
	return err
}

// remoteName returns the name of the D-Bus error err carries (an error reply from the bus or
// the manager), if any.
func remoteName(err error) (string, bool) {
	var derr godbus.Error
	if errors.As(err, &derr) {
		return derr.Name, true
	}
	var perr *godbus.Error
	if errors.As(err, &perr) && perr != nil {
		return perr.Name, true
	}
	return "", false
}
