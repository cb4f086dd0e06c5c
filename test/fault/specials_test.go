//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package fault_test

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// specials are the faults other than SIGKILLs; each needs an installed node and recovers from
// itself. The last one uninstalls.
func (c *campaign) specials() []func() {
	return []func(){c.cannotStart, c.podmanOutage, c.busRestart, c.reloadStorm, c.readOnlyUnitDir, c.containerGoneUninstall}
}

// randDelay is a random delay in [lo, hi).
func (c *campaign) randDelay(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(c.rng.Int64N(int64(hi-lo)))
}

// cannotStart restarts the daemon on a release whose image does not exist: the node must stay
// on its last good release, companion included.
func (c *campaign) cannotStart() {
	fault := c.nextFault("daemon restarted on a release that cannot start (localhost/busybox:does-not-exist)")
	cfg := c.config()
	cfg.Image = "localhost/busybox:does-not-exist"
	cfg.Release = fmt.Sprintf("v%d", c.rel+1)
	cfg.UIRelease = cfg.Release
	d := c.start(cfg)
	d.waitLine(d.started, 40*time.Second, func(s string) bool { return strings.HasPrefix(s, "pass 3 ") })
	c.stop(fault, d)
	c.check(fault)
	c.recover(fault)
}

// settle waits, after a fault ended at since, for the same daemon to converge by itself.
func (c *campaign) settle(fault string, d *daemon, since time.Time) {
	_, ok := d.waitLine(since, 60*time.Second, isConverged)
	if !ok {
		c.violate(fault, "the daemon did not converge within 60 s after the fault ended:\n"+d.tail(10))
	}
	c.stop(fault, d)
	if ok {
		c.converged++
	}
	if !c.check(fault) || !ok {
		c.heal(fault)
	}
}

// podmanOutage stops and kills the podman API service in the middle of an upgrade, then
// brings its socket back.
func (c *campaign) podmanOutage() {
	c.rel++
	delay := c.randDelay(500*time.Millisecond, 4*time.Second)
	fault := c.nextFault(fmt.Sprintf("podman service stopped and killed %v into an upgrade", delay.Round(time.Millisecond)))
	d := c.start(c.config())
	time.Sleep(delay)
	if _, err := userctl("stop", "podman.socket", "podman.service"); err != nil {
		c.t.Logf("%s: %v", fault, err)
	}
	sh("pkill", "-9", "-f", "podman system service") // exits 1 when none is left
	time.Sleep(2 * time.Second)
	if _, err := userctl("start", "podman.socket"); err != nil {
		c.t.Fatalf("[seed %d] %s: cannot restart podman.socket: %v", c.seed, fault, err)
	}
	c.settle(fault, d, time.Now())
}

// busRestart restarts the user bus in the middle of an upgrade; once the daemon converged again,
// it stops the companion by hand: only the daemon, over a new bus connection, can start it again.
func (c *campaign) busRestart() {
	c.rel++
	delay := c.randDelay(500*time.Millisecond, 4*time.Second)
	fault := c.nextFault(fmt.Sprintf("user bus restarted %v into an upgrade, then the companion stopped", delay.Round(time.Millisecond)))
	d := c.start(c.config())
	time.Sleep(delay)
	if _, err := userctl("restart", "dbus.service"); err != nil {
		c.t.Fatalf("[seed %d] %s: %v", c.seed, fault, err)
	}
	if _, ok := d.waitLine(time.Now(), 60*time.Second, isConverged); !ok {
		c.violate(fault, "the daemon did not converge within 60 s after the bus restart:\n"+d.tail(10))
	}
	if _, err := userctl("stop", uiUnit); err != nil {
		c.violate(fault, err.Error())
	}
	stopped := time.Now()
	deadline := stopped.Add(40 * time.Second)
	for {
		if st, _ := userctl("show", "-p", "ActiveState", "--value", uiUnit); st == "active" {
			c.t.Logf("%s: companion active again after %v", fault, time.Since(stopped).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) || d.exited() {
			c.violate(fault, "the companion stopped after the bus restart was not started again within 40 s:\n"+d.tail(6))
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.settle(fault, d, stopped)
}

// reloadStorm runs daemon-reloads back to back for 8 s during an upgrade.
func (c *campaign) reloadStorm() {
	c.rel++
	fault := c.nextFault("daemon-reload storm (8 s) during an upgrade")
	d := c.start(c.config())
	n := 0
	for end := time.Now().Add(8 * time.Second); time.Now().Before(end); n++ {
		userctl("daemon-reload")
	}
	c.t.Logf("%s: %d reloads", fault, n)
	c.settle(fault, d, time.Now())
}

// readOnlyUnitDir makes the unit directory read-only during an upgrade that rewrites the
// companion's unit: the old unit must stay whole and running; once writable, the daemon
// converges by itself.
func (c *campaign) readOnlyUnitDir() {
	c.rel++
	fault := c.nextFault("unit directory read-only (6 s) during an upgrade")
	if err := os.Chmod(unitDir(), 0o555); err != nil {
		c.t.Fatalf("[seed %d] %s: %v", c.seed, fault, err)
	}
	d := c.start(c.config())
	time.Sleep(6 * time.Second)
	for _, msg := range afterKill() {
		c.violate(fault, msg)
	}
	if st, _ := userctl("show", "-p", "ActiveState", "--value", uiUnit); st != "active" {
		c.violate(fault, "with the unit directory read-only, the companion is "+st+", want active on its old unit")
	}
	if err := os.Chmod(unitDir(), 0o755); err != nil {
		c.t.Fatalf("[seed %d] %s: %v", c.seed, fault, err)
	}
	c.settle(fault, d, time.Now())
}

// containerGoneUninstall removes btc's container by hand, then uninstalls: the companion must go
// too.
func (c *campaign) containerGoneUninstall() {
	fault := c.nextFault("uninstall of an app whose container is already gone")
	if _, err := sh("podman", "rm", "-f", "-t", "0", btcApp); err != nil {
		c.t.Fatalf("[seed %d] %s: %v", c.seed, fault, err)
	}
	c.installed = false
	c.uninstall(fault)
}
