package systemd

import (
	"testing"

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
