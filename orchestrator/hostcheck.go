package orchestrator

import (
	"context"
	"errors"

	"github.com/skerry-dev/skerry/runtime"
)

// checkHost asks a runtime that implements runtime.HostChecker whether a's container can run on
// its host (a rootless engine cannot publish a host port below ip_unprivileged_port_start). It
// is called where the app is validated, so such an app is refused before any side effect. An
// engine that cannot be reached is not a refusal.
func (o *Orchestrator) checkHost(ctx context.Context, a App) error {
	hc, ok := o.rt.(runtime.HostChecker)
	if !ok {
		return nil
	}
	c := a.Container
	c.Name = a.Name
	if err := hc.CheckHost(ctx, c); !errors.Is(err, runtime.ErrUnavailable) {
		return err
	}
	// The engine could not be asked: registering stays free of engine I/O failures, and the
	// runtime's Create checks again before creating.
	return nil
}
