//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package main

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/podman"
)

// counting is the podman runtime with its calls counted: every capability of the embedded
// runtime stays (renames, secrets ...), so skerry sees what a node's daemon sees. The watches'
// calls (exit waits, scheduled checks) are counted apart: they are not part of a pass.
type counting struct {
	*podman.Runtime
	calls   atomic.Int64 // the calls a pass makes
	watches atomic.Int64 // exit waits and checks
}

var _ interface {
	runtime.Runtime
	runtime.HealthRunner
	runtime.LogReader
	runtime.EventSource
	runtime.ExitWaiter
	runtime.Renamer
} = (*counting)(nil)

func (c *counting) List(ctx context.Context, o runtime.ListOptions) ([]runtime.Observation, error) {
	c.calls.Add(1)
	return c.Runtime.List(ctx, o)
}
func (c *counting) Inspect(ctx context.Context, n string) (runtime.Observation, error) {
	c.calls.Add(1)
	return c.Runtime.Inspect(ctx, n)
}
func (c *counting) Create(ctx context.Context, s runtime.ContainerSpec) error {
	c.calls.Add(1)
	return c.Runtime.Create(ctx, s)
}
func (c *counting) Start(ctx context.Context, n string) error {
	c.calls.Add(1)
	return c.Runtime.Start(ctx, n)
}
func (c *counting) Stop(ctx context.Context, n string, t time.Duration) error {
	c.calls.Add(1)
	return c.Runtime.Stop(ctx, n, t)
}
func (c *counting) Remove(ctx context.Context, n string, o runtime.RemoveOptions) error {
	c.calls.Add(1)
	return c.Runtime.Remove(ctx, n, o)
}
func (c *counting) ImageExists(ctx context.Context, r string) (bool, error) {
	c.calls.Add(1)
	return c.Runtime.ImageExists(ctx, r)
}
func (c *counting) RunHealthCheck(ctx context.Context, n string) (runtime.Health, error) {
	c.watches.Add(1)
	return c.Runtime.RunHealthCheck(ctx, n)
}
func (c *counting) WaitExit(ctx context.Context, n string) error {
	c.watches.Add(1)
	return c.Runtime.WaitExit(ctx, n)
}
