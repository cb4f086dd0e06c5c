//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import "context"

// with returns a context carrying the runtime's connection and ctx's deadline and
// cancellation: the tests call the bindings' own functions with it, to act on containers
// outside the adapter's API (pause, restart, ...) and to check what the adapter did.
func (r *Runtime) with(ctx context.Context) context.Context {
	return &connCtx{Context: ctx, conn: r.conn}
}

// connCtx is ctx with the bindings' client value looked up in the connection context.
type connCtx struct {
	context.Context
	conn context.Context
}

func (c *connCtx) Value(key any) any {
	if v := c.conn.Value(key); v != nil {
		return v
	}
	return c.Context.Value(key)
}
