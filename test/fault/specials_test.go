//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package fault_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/skerry-dev/skerry/runtime"
)

// specials are the faults other than SIGKILLs; each needs an installed node and recovers from
// itself. The last one uninstalls.
func (c *campaign) specials() []func() {
	return []func(){c.cannotStart, c.podmanOutage, c.busRestart, c.reloadStorm, c.readOnlyUnitDir, c.networkInUseUninstall, c.containerGoneUninstall}
}

// userCtr is a user's container the test attaches to btc's network by hand.
const userCtr = "fault-user"

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

// networkInUseUninstall uninstalls while a user's container is attached to btc's network: the
// uninstall completes and keeps the network (and says so); a daemon that supervises no app keeps
// it while the container is there and removes it at its next pass once the container is gone.
// Then it makes by hand the state a SIGKILL between btc's container removal and its network's
// leaves (the network, labeled as btc's, and nothing else): a new daemon's first pass must
// remove it.
func (c *campaign) networkInUseUninstall() {
	fault := c.nextFault("uninstall while a user's container is attached to " + netName)
	if _, err := sh("podman", "run", "-d", "--name", userCtr, "--network", netName, goodImage, "sleep", "600"); err != nil {
		c.t.Fatalf("[seed %d] %s: %v", c.seed, fault, err)
	}
	c.netUser, c.installed = userCtr, false
	d := c.uninstall(fault)
	if want := "networks kept while in use: " + netName; !slices.ContainsFunc(d.linesSince(d.started), func(s string) bool {
		return strings.HasPrefix(s, "uninstalled "+btcApp) && strings.Contains(s, want)
	}) {
		c.violate(fault, fmt.Sprintf("the uninstall of %s did not report %q:\n%s", btcApp, want, d.tail(6)))
	}
	cfg := c.config()
	cfg.Mode = "idle"
	d, ok := c.converge(fault+" (idle daemon, network in use)", cfg, 30*time.Second)
	if ok {
		c.converged++
	}
	c.check(fault + " (a pass while the network is in use)")
	if _, err := sh("podman", "rm", "-f", "-t", "0", userCtr); err != nil {
		c.t.Fatalf("[seed %d] %s: %v", c.seed, fault, err)
	}
	c.netUser = ""
	// The second pass that ends after the removal began after it.
	passes := 0
	if _, ok := d.waitLine(time.Now(), 30*time.Second, func(s string) bool {
		if isConverged(s) {
			passes++
		}
		return passes == 2
	}); ok {
		c.converged++
	} else {
		c.violate(fault, "the idle daemon did not converge twice within 30 s after the network was freed:\n"+d.tail(6))
	}
	c.stop(fault, d)
	c.check(fault + " (the pass after the user's container was removed)")

	crash := fault + " (then the state a SIGKILL between the container's and the network's removal leaves)"
	sh("podman", "network", "rm", "-f", netName) // left only if a check above failed
	if _, err := sh("podman", "network", "create", "--label", runtime.LabelManaged+"=true", "--label", runtime.LabelApp+"="+btcApp, netName); err != nil {
		c.t.Fatalf("[seed %d] %s: %v", c.seed, crash, err)
	}
	c.idle(crash, "the first pass of a new daemon that supervises no app")
}
