//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package fault_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSIGTERMAtAnyMoment sends SIGTERM to the daemon at random moments of an upgrade, a
// rotation or an upgrade that rolls back: it must exit within its shutdown bound, end cleanly,
// never have the bus closed under the pass it lets finish, and a pass it reports converged after
// the signal must be true of the node.
func TestSIGTERMAtAnyMoment(t *testing.T) {
	c := newCampaign(t)
	c.bringUp()
	n := envInt("SKERRY_FAULT_SIGTERM_N", 6)
	var slowest time.Duration
	for i := range n {
		cfg := c.config()
		kind := []string{"upgrade", "rotation", "rollback"}[i%3]
		password := c.password + "-0"
		switch kind {
		case "upgrade":
			c.rel++
			cfg = c.config()
		case "rotation":
			c.password = fmt.Sprintf("term%d", i)
			cfg.Password, cfg.Rotate, password = c.password, 1, ""
		case "rollback":
			cfg.UpgradeTo = badRel
		}
		delay := c.randDelay(0, 10*time.Second)
		fault := c.nextFault(fmt.Sprintf("SIGTERM %v into %s", delay.Round(time.Millisecond), kind))
		d := c.start(cfg)
		if _, ok := d.waitLine(d.started, 10*time.Second, func(s string) bool { return s == signalsHandled }); !ok {
			c.violate(fault, "the daemon never handled signals:\n"+d.tail(8))
		}
		time.Sleep(delay)
		sent := time.Now()
		took, ok := d.term(shutdownBound)
		slowest = max(slowest, took)
		t.Logf("%s: exited after %v", fault, took.Round(time.Millisecond))
		switch {
		case !ok:
			c.violate(fault, fmt.Sprintf("no exit within the shutdown bound %v:\n%s", shutdownBound, d.tail(8)))
		case d.exit != nil:
			c.violate(fault, fmt.Sprintf("exit %v after SIGTERM:\n%s", d.exit, d.tail(8)))
		}
		after := d.linesSince(sent)
		if ok && !slices.ContainsFunc(after, func(s string) bool { return strings.HasPrefix(s, "shutdown after ") }) {
			c.violate(fault, "the daemon did not shut down through its signal handler:\n"+d.tail(8))
		}
		if d.exited() && strings.Contains(d.tail(1000), "connection closed by user") {
			c.violate(fault, "the bus was closed under a pass that was let finish:\n"+d.tail(8))
		}
		// A pass reported converged after the signal must be true of the node.
		if last, found := lastPass(after); found && isConverged(last) {
			w := c.want()
			w.password = password
			w.held = kind == "rollback"
			for _, msg := range checkNode(w) {
				c.violate(fault, "a pass finished after SIGTERM reported converged, but: "+msg)
			}
		}
		c.recover(fault)
	}
	summary := fmt.Sprintf("sigterm: seed=%d signals=%d slowest exit=%v (bound %v) converged=%d invariant violations=%d",
		c.seed, n, slowest.Round(time.Millisecond), shutdownBound, c.converged, len(c.violations))
	fmt.Println(summary)
	t.Log(summary)
}

// lastPass returns the last pass line of lines.
func lastPass(lines []string) (string, bool) {
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "pass ") {
			return lines[i], true
		}
	}
	return "", false
}
