// Package tagcache remembers what image tags named when last resolved, so that the orchestrator
// (apps) and the companion manager (companions) resolve a tag again only when it may have moved.
// It does no I/O: its users resolve and tell it.
package tagcache

import (
	"strings"
	"sync"
	"time"
)

// DefaultRecheck is how often, by default, a tag is resolved again to notice it moved behind
// skerry's back (orchestrator.DefaultImageRecheck, companion.DefaultImageRecheck).
const DefaultRecheck = 5 * time.Minute

// Movable reports whether ref is a tag that can move: not empty, not a digest reference.
func Movable(ref string) bool {
	return ref != "" && !strings.Contains(ref, "@")
}

// Cache maps an image reference to the image ID it named when last resolved. Its zero value is
// empty and ready; it is safe for concurrent use.
type Cache struct {
	mu sync.Mutex
	m  map[string]entry
}

type entry struct {
	id    string    // "" when the image was not present
	at    time.Time // when resolved
	stale bool      // to resolve again at the next look (pulled or built since, ...)
}

// ID returns the image ID ref named when last resolved; "" when unknown.
func (c *Cache) ID(ref string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[ref].id
}

// Stale marks a known ref for resolving again at the next look.
func (c *Cache) Stale(ref string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[ref]; ok {
		e.stale = true
		c.m[ref] = e
	}
}

// Due reports whether ref must be resolved at now: never resolved, marked stale, force, or
// resolved recheck ago or longer.
func (c *Cache) Due(ref string, now time.Time, force bool, recheck time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, known := c.m[ref]
	return !known || force || e.stale || now.Sub(e.at) >= recheck
}

// Set records that ref named image id ("" when absent) at now.
func (c *Cache) Set(ref, id string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]entry{}
	}
	c.m[ref] = entry{id: id, at: now}
}
