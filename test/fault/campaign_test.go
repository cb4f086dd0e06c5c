//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package fault_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// campaign drives the child daemon through faults and checks the node after each.
type campaign struct {
	t        *testing.T
	began    time.Time
	seed     uint64
	rng      *rand.Rand
	rel      int    // the last good release is fmt.Sprintf("v%d", rel)
	password string // the base of the password the daemon renders
	markers  map[string]string
	// installed: the node's apps are desired (false after an uninstall).
	installed bool
	// netUser is the container the test attached to btc's network by hand ("": none).
	netUser string

	faults, converged int
	// netWindows counts the SIGKILLs of an uninstall or a bring-up that left btc's network
	// without its container (between the container's removal and the network's in an
	// uninstall, or between the network's creation and the container's in a bring-up).
	netWindows int
	violations []string
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}

func newCampaign(t *testing.T) *campaign {
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("SKERRY_FAULT_SEED"), 10, 64); err == nil {
		seed = s
	}
	fmt.Printf("%s: seed %d (rerun with SKERRY_FAULT_SEED=%d)\n", t.Name(), seed, seed)
	c := &campaign{t: t, began: time.Now(), seed: seed, rng: rand.New(rand.NewPCG(seed, 0x5eed)), rel: 1, password: "pw"}
	wipe()
	t.Cleanup(wipe)
	noteForeignNetworks()
	return c
}

func (c *campaign) release() string { return fmt.Sprintf("v%d", c.rel) }

// config is the daemon's configuration for the node's current desired state.
func (c *campaign) config() childConfig {
	return childConfig{Mode: "run", Image: goodImage, Release: c.release(), UIRelease: c.release(), Password: c.password}
}

func (c *campaign) want() want {
	return want{installed: c.installed, release: c.release(), uiRelease: c.release(), password: c.password + "-0", markers: c.markers, netUser: c.netUser}
}

func (c *campaign) violate(fault, msg string) {
	s := fmt.Sprintf("[seed %d] %s: %s", c.seed, fault, msg)
	c.violations = append(c.violations, s)
	c.t.Error(s)
}

// start starts a daemon; failing to start the test binary ends the test.
func (c *campaign) start(cfg childConfig) *daemon {
	d, err := startDaemon(cfg)
	if err != nil {
		c.t.Fatalf("[seed %d] start daemon: %v", c.seed, err)
	}
	return d
}

// stop ends a daemon with SIGTERM and checks its shutdown bound.
func (c *campaign) stop(fault string, d *daemon) {
	if took, ok := d.term(shutdownBound); !ok {
		c.violate(fault, fmt.Sprintf("daemon did not exit within %v of SIGTERM:\n%s", shutdownBound, d.tail(8)))
	} else if d.exit != nil {
		c.violate(fault, fmt.Sprintf("daemon exited with %v after SIGTERM (%v):\n%s", d.exit, took, d.tail(8)))
	}
}

// converge runs a daemon of cfg until a pass converges (restarting it when it exits, as a
// service manager would), and leaves it running. It reports whether a pass converged.
func (c *campaign) converge(fault string, cfg childConfig, within time.Duration) (*daemon, bool) {
	deadline := time.Now().Add(within)
	for {
		d := c.start(cfg)
		if _, ok := d.waitLine(d.started, time.Until(deadline), isConverged); ok {
			return d, true
		}
		if !d.exited() || time.Now().After(deadline) {
			c.violate(fault, fmt.Sprintf("no pass converged within %v:\n%s", within, d.tail(10)))
			return d, false
		}
		time.Sleep(time.Second)
	}
}

// recover brings the node to its desired state after a fault, checks the invariants and, when a
// recovery failed, heals the node with a plain run so that the campaign can go on.
func (c *campaign) recover(fault string) {
	if !c.installed {
		c.uninstall(fault)
		return
	}
	d, ok := c.converge(fault, c.config(), 60*time.Second)
	c.stop(fault, d)
	if ok {
		c.converged++
		c.ensureMarkers()
	}
	if !c.check(fault) || !ok {
		c.heal(fault)
	}
}

// uninstall runs the daemon's uninstall to its end (restarted when it fails), checks, and
// returns the last daemon.
func (c *campaign) uninstall(fault string) *daemon {
	cfg := c.config()
	cfg.Mode = "uninstall"
	deadline := time.Now().Add(60 * time.Second)
	for {
		d := c.start(cfg)
		_, ok := d.waitLine(d.started, time.Until(deadline), func(s string) bool { return s == "uninstall done" })
		<-d.done
		if ok && d.exit == nil {
			c.converged++
			if !c.check(fault) {
				c.t.Logf("the uninstall's output:\n%s", d.tail(10))
			}
			return d
		}
		if time.Now().After(deadline) {
			c.violate(fault, "the uninstall did not complete:\n"+d.tail(10))
			c.check(fault)
			return d
		}
		time.Sleep(time.Second)
	}
}

// heal brings a node that failed to recover back on a new good release. If even that fails,
// the campaign cannot go on.
func (c *campaign) heal(fault string) {
	c.rel++
	d, ok := c.converge(fault+" (heal)", c.config(), 60*time.Second)
	c.stop(fault+" (heal)", d)
	if !ok {
		c.t.Fatalf("[seed %d] after %s the node could not be healed", c.seed, fault)
	}
	c.check(fault + " (then the next release)")
}

// check checks the node's invariants and reports whether they all hold.
func (c *campaign) check(fault string) bool {
	v := checkNode(c.want())
	for _, msg := range v {
		c.violate(fault, msg)
	}
	return len(v) == 0
}

// ensureMarkers writes the volume markers at the first bring-up.
func (c *campaign) ensureMarkers() {
	if c.markers != nil {
		return
	}
	m, err := writeMarkers(c.seed)
	if err != nil {
		c.t.Fatalf("[seed %d] markers: %v", c.seed, err)
	}
	c.markers = m
}

// nextFault counts a fault and names it.
func (c *campaign) nextFault(what string) string {
	c.faults++
	fault := fmt.Sprintf("fault %d: %s", c.faults, what)
	c.t.Logf("%s (at %v)", fault, time.Since(c.began).Round(time.Second))
	return fault
}

// bringUp installs the node from nothing (not a fault) and writes the volume markers once. On a
// fresh node the Quadlet unit directory does not exist yet: the daemon must create it.
func (c *campaign) bringUp() {
	c.installed = true
	_, err := os.Stat(unitDir())
	fresh := os.IsNotExist(err)
	d, ok := c.converge("bring-up", c.config(), 45*time.Second)
	c.stop("bring-up", d)
	if _, err := os.Stat(unitDir()); !ok && fresh && os.IsNotExist(err) {
		c.violate("bring-up", "on a fresh node (no "+unitDir()+"), the companion never comes up: the unit directory is not created")
		os.MkdirAll(unitDir(), 0o755)
		d, ok = c.converge("bring-up (unit directory created by the test)", c.config(), 45*time.Second)
		c.stop("bring-up", d)
	}
	if !ok {
		c.t.Fatalf("[seed %d] the node does not come up", c.seed)
	}
	c.ensureMarkers()
	c.check("bring-up")
}

// killPhases are the phases a SIGKILL lands in, in cycle order (from an installed node): each
// leaves the node in the state the next one starts from. max is the longest a phase runs before its first converged
// pass, so that kills spread over all of it.
var killPhases = []struct {
	name string
	max  time.Duration
}{
	{"rotation", 8 * time.Second},
	{"upgrade", 12 * time.Second},
	{"rollback", 16 * time.Second},
	{"uninstall", 4 * time.Second},
	{"bring-up", 12 * time.Second},
}

// sigkill runs one phase's daemon, SIGKILLs it after a random delay, checks what the kill left
// on disk, and recovers.
func (c *campaign) sigkill(i int, phase string, max time.Duration) {
	cfg := c.config()
	switch phase {
	case "bring-up":
		c.installed = true
	case "rotation":
		c.password = fmt.Sprintf("pw%d", i)
		cfg.Password, cfg.Rotate = c.password, 1
	case "upgrade":
		c.rel++
		cfg = c.config()
	case "rollback":
		// Upgraded to a release whose check fails once the first pass converged; the recovery
		// daemon is restarted with that release too and must keep the node on the last good one.
		cfg.UpgradeTo = badRel
	case "uninstall":
		cfg.Mode = "uninstall"
		c.installed = false
	}
	delay := time.Duration(c.rng.Int64N(int64(max)))
	if phase == "uninstall" && i/len(killPhases)%2 == 0 {
		// Every other uninstall is killed when podman reports btc's container removed: aimed at
		// the window before its network's removal, which a random delay rarely hits.
		c.killAtBtcRemoval(cfg)
		return
	}
	fault := c.nextFault(fmt.Sprintf("SIGKILL %v into %s", delay.Round(time.Millisecond), phase))
	d := c.start(cfg)
	time.Sleep(delay)
	d.kill()
	c.afterSigkill(fault, phase)
}

// afterSigkill checks what a SIGKILL into phase left on disk and recovers.
func (c *campaign) afterSigkill(fault, phase string) {
	for _, msg := range afterKill() {
		c.violate(fault, msg)
	}
	switch {
	case phase == "rollback":
		c.recoverRollback(fault)
	case phase != "uninstall" && phase != "bring-up" || !netWindow():
		// (An upgrade has btc's network without a container named btc between the old one's
		// rename to .PREV and the new one's creation: not a network window.)
		c.recover(fault)
	case phase == "uninstall":
		// The node a real daemon restarts after a crash in this window no longer supervises the
		// app: its first pass must remove the network.
		c.netWindows++
		c.t.Logf("%s: hit the window between %s's container removal and its network's", fault, btcApp)
		c.idle(fault, "the first pass of a daemon that supervises no app")
	default:
		c.netWindows++
		c.t.Logf("%s: hit the window between %s's network creation and its container's", fault, btcApp)
		c.recover(fault)
	}
}

// netWindow reports whether btc's network exists without btc's container.
func netWindow() bool {
	if _, err := sh("podman", "network", "exists", netName); err != nil {
		return false
	}
	_, err := sh("podman", "container", "exists", btcApp)
	return err != nil
}

// idle runs a daemon that supervises no app until a pass converges, stops it and checks the
// uninstalled node.
func (c *campaign) idle(fault, what string) {
	cfg := c.config()
	cfg.Mode = "idle"
	d, ok := c.converge(fault+" ("+what+")", cfg, 30*time.Second)
	c.stop(fault, d)
	if ok {
		c.converged++
	}
	c.check(fault + " (after " + what + ")")
}

// recoverRollback restarts the daemon on the bad release: the node must stay on (or come back
// to) its last good release, and a pass must converge there.
func (c *campaign) recoverRollback(fault string) {
	cfg := c.config()
	cfg.Release = badRel
	d, ok := c.converge(fault, cfg, 60*time.Second)
	c.stop(fault, d)
	if ok {
		c.converged++
	}
	w := c.want()
	w.held = true
	v := checkNode(w)
	for _, msg := range v {
		c.violate(fault, msg)
	}
	// The next release releases the hold (and removes the record), whatever happened.
	c.heal(fault)
}

func TestFaultCampaign(t *testing.T) {
	c := newCampaign(t)
	start := c.began
	budget := 8 * time.Minute
	if d, err := time.ParseDuration(os.Getenv("SKERRY_FAULT_BUDGET")); err == nil {
		budget = d
	}
	n := envInt("SKERRY_FAULT_N", 20)
	specials := c.specials()
	c.bringUp()
	kills := 0
	for ; kills < n && time.Since(start) < budget; kills++ {
		p := killPhases[kills%len(killPhases)]
		if p.name == "bring-up" && c.installed {
			c.installed = false
			c.uninstall("before bring-up")
		} else if p.name != "bring-up" && !c.installed {
			c.bringUp()
		}
		c.sigkill(kills, p.name, p.max)
		if c.installed && len(specials) > 0 && p.name != "bring-up" {
			specials[0]()
			specials = specials[1:]
		}
	}
	for _, f := range specials {
		if time.Since(start) > budget {
			break
		}
		if !c.installed {
			c.bringUp()
		}
		f()
	}
	took := time.Since(start).Round(time.Second)
	summary := fmt.Sprintf("fault campaign: seed=%d faults=%d (SIGKILLs %d, %d in a network window) converged=%d invariant violations=%d in %v",
		c.seed, c.faults, kills, c.netWindows, c.converged, len(c.violations), took)
	fmt.Println(summary)
	t.Log(summary)
	if kills < n || len(specials) > 0 && time.Since(start) > budget {
		t.Errorf("[seed %d] budget %v exhausted after %d of %d SIGKILLs", c.seed, budget, kills, n)
	}
}
