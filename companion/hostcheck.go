package companion

import (
	"context"
	"errors"

	"github.com/skerry-dev/skerry/runtime"
)

// checkHost asks an engine that implements runtime.HostChecker whether the companions rs can
// run on its host (a rootless engine cannot publish a host port below
// ip_unprivileged_port_start; a limit needs its cgroup controller), before any image, file or
// unit is touched. An engine that cannot be asked is not a refusal: systemd's start reports
// the failure then.
func (m *Manager) checkHost(ctx context.Context, rs []rendered) error {
	hc, ok := m.images.(runtime.HostChecker)
	if !ok {
		return nil
	}
	var errs []error
	for _, r := range rs {
		if err := hc.CheckHost(ctx, r.spec.container()); err != nil && !errors.Is(err, runtime.ErrUnavailable) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
