package systemd

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"

	"github.com/skerry-dev/skerry/quadlet"
)

// fakeBus answers every call at once ("done" for jobs) unless told otherwise.
type fakeBus struct {
	mu       sync.Mutex
	calls    map[string]int
	fail     map[string]error // the next call of that name fails with this error
	hangJobs bool             // jobs never report a result
	lose     func()           // loses the link (closes its lost channel)
}

func (b *fakeBus) note(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls[name]++
	if err := b.fail[name]; err != nil {
		delete(b.fail, name)
		if errors.Is(err, godbus.ErrClosed) {
			b.lose()
		}
		return err
	}
	return nil
}

func (b *fakeBus) count(name string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[name]
}

func (b *fakeBus) job(name string, ch chan<- string) (int, error) {
	if err := b.note(name); err != nil {
		return 0, err
	}
	if !b.hangJobs {
		ch <- "done"
	}
	return 1, nil
}

func (b *fakeBus) ReloadContext(context.Context) error { return b.note("reload") }
func (b *fakeBus) StartUnitContext(_ context.Context, _, _ string, ch chan<- string) (int, error) {
	return b.job("start", ch)
}
func (b *fakeBus) StopUnitContext(_ context.Context, _, _ string, ch chan<- string) (int, error) {
	return b.job("stop", ch)
}
func (b *fakeBus) RestartUnitContext(_ context.Context, _, _ string, ch chan<- string) (int, error) {
	return b.job("restart", ch)
}
func (b *fakeBus) ResetFailedUnitContext(context.Context, string) error { return b.note("reset") }
func (b *fakeBus) ListUnitsByNamesContext(_ context.Context, units []string) ([]dbus.UnitStatus, error) {
	if err := b.note("list"); err != nil {
		return nil, err
	}
	var out []dbus.UnitStatus
	for _, u := range units {
		out = append(out, dbus.UnitStatus{Name: u, LoadState: "loaded", ActiveState: "active", SubState: "running"})
	}
	return out, nil
}
func (b *fakeBus) GetUnitPropertiesContext(context.Context, string) (map[string]any, error) {
	return map[string]any{"LoadState": "loaded", "ActiveState": "active"}, b.note("props")
}
func (b *fakeBus) GetUnitTypePropertyContext(context.Context, string, string, string) (*dbus.Property, error) {
	return &dbus.Property{Value: godbus.MakeVariant(uint32(3))}, b.note("nrestarts")
}
func (b *fakeBus) Close() {}

// fakeDialer hands out fake links; down makes dials fail.
type fakeDialer struct {
	mu    sync.Mutex
	dials int
	down  bool
	links []*fakeBus
	setup func(*fakeBus) // applied to each new bus
}

func (d *fakeDialer) dial(ctx context.Context) (*link, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dials++
	if d.down {
		return nil, errors.New("dial unix /run/user/1000/bus: connect: no such file or directory")
	}
	lost := make(chan struct{})
	var once sync.Once
	b := &fakeBus{calls: map[string]int{}, fail: map[string]error{}, lose: func() { once.Do(func() { close(lost) }) }}
	if d.setup != nil {
		d.setup(b)
	}
	d.links = append(d.links, b)
	return &link{bus: b, lost: lost, close: b.lose}, nil
}

func (d *fakeDialer) last() *fakeBus {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.links[len(d.links)-1]
}

func (d *fakeDialer) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dials
}

func (d *fakeDialer) setDown(down bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.down = down
}

func newFake(t *testing.T, d *fakeDialer) *Manager {
	t.Helper()
	m, err := newManager(t.Context(), d.dial, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func TestLostConnectionIsRedialled(t *testing.T) {
	d := &fakeDialer{}
	m := newFake(t, d)
	ctx := t.Context()
	units := []string{"a.service"}
	if _, err := m.States(ctx, units); err != nil {
		t.Fatal(err)
	}
	d.last().lose() // the bus restarted between two calls
	if _, err := m.States(ctx, units); err != nil {
		t.Fatalf("the call after a lost connection: %v", err)
	}
	if d.count() != 2 {
		t.Fatalf("%d dials, want 2", d.count())
	}
	if u, err := m.Unit(ctx, "a.service"); err != nil || u.NRestarts != 3 {
		t.Fatalf("Unit over the new link: %+v %v", u, err)
	}
}

func TestIdempotentCallsRetryOnceRestartDoesNot(t *testing.T) {
	d := &fakeDialer{}
	m := newFake(t, d)
	ctx := t.Context()
	loseDuring := func(call string) { // the current link is lost during the next call
		b := d.last()
		b.mu.Lock()
		b.fail[call] = godbus.ErrClosed
		b.mu.Unlock()
	}
	loseDuring("list")
	if _, err := m.States(ctx, []string{"a.service"}); err != nil {
		t.Fatalf("States after losing the connection midway: %v", err)
	}
	loseDuring("start")
	if err := m.Start(ctx, "a.service"); err != nil {
		t.Fatalf("Start after losing the connection midway: %v", err)
	}
	loseDuring("reload")
	if err := m.Reload(ctx); err != nil {
		t.Fatalf("Reload after losing the connection midway: %v", err)
	}
	if d.count() != 4 {
		t.Fatalf("%d dials, want 4", d.count())
	}
	loseDuring("restart")
	err := m.Restart(ctx, "a.service")
	if !errors.Is(err, quadlet.ErrUnavailable) || !errors.Is(err, godbus.ErrClosed) {
		t.Fatalf("Restart that lost its connection: %v, want ErrUnavailable", err)
	}
	if d.count() != 4 { // not repeated over a new link
		t.Fatalf("Restart was retried: %d dials, want 4", d.count())
	}
	// A retry that fails the same way gives up after one.
	d.mu.Lock()
	d.setup = func(b *fakeBus) { b.fail["list"] = godbus.ErrClosed }
	d.mu.Unlock()
	if _, err := m.States(ctx, []string{"a.service"}); !errors.Is(err, quadlet.ErrUnavailable) {
		t.Fatalf("States losing two connections: %v, want ErrUnavailable", err)
	}
	if d.count() != 6 {
		t.Fatalf("%d dials, want 6", d.count())
	}
}

func TestJobWaitEndsWhenConnectionIsLost(t *testing.T) {
	d := &fakeDialer{setup: func(b *fakeBus) { b.hangJobs = true }}
	m := newFake(t, d)
	first := d.last()
	d.mu.Lock()
	d.setup = nil // the next link reports job results
	d.mu.Unlock()
	errc := make(chan error, 1)
	go func() { errc <- m.Stop(t.Context(), "a.service") }()
	for first.count("stop") == 0 {
		time.Sleep(time.Millisecond)
	}
	first.lose()
	if err := <-errc; err != nil {
		t.Fatalf("Stop whose connection was lost while waiting: %v, want it redone over a new link", err)
	}
	if d.last().count("stop") != 1 {
		t.Fatal("the stop was not redone over the new link")
	}
}

func TestUnavailableWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &fakeDialer{}
		m := newFake(t, d)
		ctx := t.Context()
		d.setDown(true)
		d.last().lose()
		_, err := m.States(ctx, []string{"a.service"})
		if !errors.Is(err, quadlet.ErrUnavailable) {
			t.Fatalf("bus down: %v, want ErrUnavailable", err)
		}
		dials := d.count()
		for range 5 { // within the backoff: no dial
			if err := m.Reload(ctx); !errors.Is(err, quadlet.ErrUnavailable) {
				t.Fatalf("bus down: %v", err)
			}
		}
		if d.count() != dials {
			t.Fatalf("%d dials within the backoff", d.count()-dials)
		}
		time.Sleep(minRedial)
		m.Reload(ctx)
		if d.count() != dials+1 {
			t.Fatalf("no dial after the backoff")
		}
		time.Sleep(minRedial) // the backoff doubled
		m.Reload(ctx)
		if d.count() != dials+1 {
			t.Fatalf("dialled before the doubled backoff")
		}
		time.Sleep(10 * maxRedial)
		d.setDown(false)
		if err := m.Reload(ctx); err != nil {
			t.Fatalf("bus back: %v", err)
		}
		// A later loss re-dials at once: a success reset the backoff.
		d.last().lose()
		if err := m.Reload(ctx); err != nil {
			t.Fatalf("after a second loss: %v", err)
		}
	})
}

func TestClosedManagerIsUnavailable(t *testing.T) {
	d := &fakeDialer{}
	m := newFake(t, d)
	m.Close()
	if _, err := m.States(t.Context(), []string{"a.service"}); !errors.Is(err, quadlet.ErrUnavailable) {
		t.Fatalf("after Close: %v, want ErrUnavailable", err)
	}
	if d.count() != 1 {
		t.Fatal("a closed manager dialled again")
	}
}

func TestNewFailsTypedWhenBusIsDown(t *testing.T) {
	d := &fakeDialer{down: true}
	if _, err := newManager(t.Context(), d.dial, nil); !errors.Is(err, quadlet.ErrUnavailable) {
		t.Fatalf("New with the bus down: %v, want ErrUnavailable", err)
	}
}

func TestMapErr(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want error
	}{
		{godbus.Error{Name: "org.freedesktop.systemd1.NoSuchUnit"}, quadlet.ErrNoSuchUnit},
		{&godbus.Error{Name: "org.freedesktop.systemd1.LoadFailed"}, quadlet.ErrNoSuchUnit},
		{godbus.Error{Name: "org.freedesktop.DBus.Error.ServiceUnknown"}, quadlet.ErrUnavailable},
		{godbus.Error{Name: "org.freedesktop.DBus.Error.NoReply"}, quadlet.ErrUnavailable},
	} {
		if got := mapErr(tc.err); !errors.Is(got, tc.want) {
			t.Errorf("mapErr(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if other := errors.New("x"); mapErr(other) != other {
		t.Error("an unknown error must pass unchanged")
	}
}
