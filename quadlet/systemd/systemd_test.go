package systemd

import (
	"testing"

	"github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
)

func TestUnitNameRoundTrip(t *testing.T) {
	for _, name := range []string{"lnd-ui.service", "bitcoind_x.service", "a@b.service", "x.y.z.service"} {
		path := godbus.ObjectPath("/org/freedesktop/systemd1/unit/" + dbus.PathBusEscape(name))
		if got := unitName(path); got != name {
			t.Errorf("unitName(%s) = %q, want %q", path, got, name)
		}
	}
	if unitName("/org/freedesktop/systemd1") != "" {
		t.Error("the manager's path is not a unit")
	}
}
