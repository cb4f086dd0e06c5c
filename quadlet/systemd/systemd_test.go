package systemd

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	godbus "github.com/godbus/dbus/v5"

	"github.com/skerry-dev/skerry/quadlet"

	"pgregory.net/rapid"
)

func TestUnitNameRoundTrip(t *testing.T) {
	for _, name := range []string{"lnd-ui.service", "bitcoind_x.service", "a@b.service", "x.y.z.service"} {
		if got := unitName(unitPath(name)); got != name {
			t.Errorf("unitName(%s) = %q, want %q", unitPath(name), got, name)
		}
	}
	if unitName("/org/freedesktop/systemd1") != "" {
		t.Error("the manager's path is not a unit")
	}
	rapid.Check(t, func(t *rapid.T) {
		name := rapid.StringMatching(`[A-Za-z0-9:_.@\\-]{1,40}\.service`).Draw(t, "name")
		if got := unitName(unitPath(name)); got != name {
			t.Fatalf("unitName(%s) = %q, want %q", unitPath(name), got, name)
		}
	})
}

// privateBus runs a dbus-daemon of its own (no systemd on it) at a socket in a temporary
// directory and points DBUS_SESSION_BUS_ADDRESS there; stop kills it, start runs it again at
// the same address.
func privateBus(t *testing.T) (start, stop func()) {
	bin, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("dbus-daemon is not installed")
	}
	dir := t.TempDir()
	addr := "unix:path=" + filepath.Join(dir, "bus")
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	config := filepath.Join(dir, "bus.conf") // no service directories: nothing is activated
	if err := os.WriteFile(config, []byte(`<busconfig><type>session</type><listen>`+addr+`</listen>
<auth>EXTERNAL</auth><policy context="default"><allow send_destination="*"/><allow own="*"/><allow receive_sender="*"/></policy></busconfig>`), 0o644); err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	start = func() {
		cmd = exec.Command(bin, "--config-file="+config, "--nofork", "--print-address=1")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if _, err := bufio.NewReader(out).ReadString('\n'); err != nil { // listening
			t.Fatal(err)
		}
	}
	stop = func() {
		cmd.Process.Kill()
		cmd.Wait()
	}
	start()
	t.Cleanup(func() { stop() })
	return start, stop
}

// notOnBus reports whether err is the bus's answer that no manager is on it: proof that the
// call went over a live connection.
func notOnBus(err error) bool {
	name, _ := remoteName(err)
	return name == "org.freedesktop.DBus.Error.ServiceUnknown" && errors.Is(err, quadlet.ErrUnavailable)
}

func TestRealDialOutlivesNewContextAndBusRestart(t *testing.T) {
	start, stop := privateBus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	m, err := New(ctx, User)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	first := m.conns.cur
	cancel() // the daemon's context ends; the manager's connection must not
	if err := m.Reload(t.Context()); !notOnBus(err) {
		t.Fatalf("a call after New's ctx ended: %v, want the bus's answer over a live connection", err)
	}
	if m.conns.cur != first || first.dead() {
		t.Fatal("the connection was lost when New's ctx ended")
	}
	stop()
	if err := m.Reload(t.Context()); !errors.Is(err, quadlet.ErrUnavailable) {
		t.Fatalf("bus down: %v, want ErrUnavailable", err)
	}
	start()
	deadline := time.Now().Add(10 * maxRedial)
	for err := m.Reload(t.Context()); !notOnBus(err); err = m.Reload(t.Context()) {
		if !errors.Is(err, quadlet.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("after the bus came back: %v", err)
		}
		time.Sleep(minRedial)
	}
}

// fakeSystemd claims org.freedesktop.systemd1 on the private bus, answers Subscribe and emits
// PropertiesChanged for units.
type fakeSystemd struct{ conn *godbus.Conn }

func (fakeSystemd) Subscribe() *godbus.Error { return nil }

func (f fakeSystemd) change(t *testing.T, unit string) {
	t.Helper()
	err := f.conn.Emit(unitPath(unit), "org.freedesktop.DBus.Properties.PropertiesChanged", "org.freedesktop.systemd1.Unit",
		map[string]godbus.Variant{"ActiveState": godbus.MakeVariant("failed")}, []string{})
	if err != nil {
		t.Fatal(err)
	}
}

func startFakeSystemd(t *testing.T) fakeSystemd {
	t.Helper()
	conn, err := openBus(User)(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName("org.freedesktop.systemd1", godbus.NameFlagDoNotQueue); err != nil || reply != godbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("claim the name: %v %v", reply, err)
	}
	f := fakeSystemd{conn: conn}
	if err := conn.Export(f, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager"); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestUnitChangesOnAPrivateBus(t *testing.T) {
	_, stop := privateBus(t)
	m, err := New(t.Context(), User)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.UnitChanges(t.Context(), []string{"a.service"}); !notOnBus(err) {
		t.Fatalf("no manager on the bus: %v, want ErrUnavailable", err)
	}
	sd := startFakeSystemd(t)
	changes, err := m.UnitChanges(t.Context(), []string{"a.service"})
	if err != nil {
		t.Fatal(err)
	}
	sd.change(t, "other.service") // not watched: the bus does not deliver it
	sd.change(t, "a.service")
	if got := <-changes; got != "a.service" {
		t.Fatalf("streamed %q, want a.service", got)
	}
	stop() // the bus goes away: the stream ends, it does not spin or hang
	for range changes {
	}
	if _, err := m.UnitChanges(t.Context(), []string{"a.service"}); !errors.Is(err, quadlet.ErrUnavailable) {
		t.Fatalf("bus down: %v, want ErrUnavailable", err)
	}
}
