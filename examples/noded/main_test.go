//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package main

import (
	"errors"
	"testing"
	"time"
)

// Bad flags are refused before anything is touched (issue 14: -apps -1 panicked, a negative
// -interval was accepted, -state was created before its path was checked).
func TestFlagsAreValidatedFirst(t *testing.T) {
	good := config{image: "localhost/busybox:latest", interval: time.Second, stateDir: "/tmp/noded", events: true,
		schedule: true, shutdownTimeout: 20 * time.Second}
	if err := good.validate(); err != nil {
		t.Fatalf("good flags refused: %v", err)
	}
	for name, mutate := range map[string]func(*config){
		"negative -apps":              func(c *config) { c.extraApps = -1 },
		"zero -interval":              func(c *config) { c.interval = 0 },
		"negative -interval":          func(c *config) { c.interval = -time.Second },
		"negative -passes":            func(c *config) { c.passes = -1 },
		"negative -rotate-every":      func(c *config) { c.rotateEvery = -3 },
		"relative -state":             func(c *config) { c.stateDir = "state" },
		"unclean -state":              func(c *config) { c.stateDir = "/tmp/../etc" },
		"empty -image":                func(c *config) { c.image = "" },
		"zero -shutdown-timeout":      func(c *config) { c.shutdownTimeout = 0 },
		"negative -check-interval":    func(c *config) { c.checkInterval = -time.Second },
		"checks without the watchers": func(c *config) { c.events = false },
	} {
		c := good
		mutate(&c)
		if err := c.validate(); !errors.Is(err, errUsage) {
			t.Errorf("%s: %v, want errUsage", name, err)
		}
	}
}

// -check-interval reaches every check: the demo apps', the companion's and the filler apps'.
func TestCheckEveryReachesEveryCheck(t *testing.T) {
	apps := append(demoApps("img", "/tmp/noded", func() string { return "pw" }), fillerApps("img", 3)...)
	checkEvery(apps, 30*time.Second)
	n := 0
	for _, a := range apps {
		if a.Health.Interval != 30*time.Second {
			t.Errorf("%s: interval %v", a.Name, a.Health.Interval)
		}
		for _, c := range a.Companions {
			n++
			if c.Health.Interval != 30*time.Second {
				t.Errorf("%s: interval %v", c.Name, c.Health.Interval)
			}
		}
	}
	if n == 0 {
		t.Fatal("no companion to check")
	}
}
