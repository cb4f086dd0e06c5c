package orchestrator

import (
	"context"
	"fmt"

	"github.com/skerry-dev/skerry/runtime"
)

// Install makes app desired and brings it up now: hooks, then create or repair the container,
// then wait until it is healthy, then its companions. It is idempotent: Install twice has the
// effect of Install once, and an existing container in any state is repaired, not duplicated.
// An explicit Install ignores the crash-loop backoff and a hold after a failed upgrade (it tries
// the release again), and observes the app's dependencies afresh. A validation error returns
// before any side effect; a failed start returns an error wrapping ErrNotReady, a failed upgrade
// one wrapping ErrRolledBack.
func (o *Orchestrator) Install(ctx context.Context, app App) (AppReport, error) {
	if err := app.Validate(); err != nil {
		return AppReport{App: app.Name, Err: err}, err
	}
	if err := o.checkHost(ctx, app); err != nil {
		return AppReport{App: app.Name, Err: err}, err
	}
	if errs := o.checkNetworkOwnersOf([]App{app}, nil); len(errs) > 0 {
		return AppReport{App: app.Name, Err: errs[0]}, errs[0]
	}
	if err := o.checkNetworksOnHost(ctx, []App{app}); err != nil {
		return AppReport{App: app.Name, Err: err}, err
	}
	s := o.state(app.Name, true)
	if err := s.acquire(ctx); err != nil {
		return AppReport{App: app.Name, Err: err}, err
	}
	defer s.release()
	if err := o.setDesired(s, app, nil); err != nil {
		return AppReport{App: app.Name, Err: err}, err
	}
	return o.ensure(ctx, s, nil, nil, true)
}

// EnsureRunning brings an installed app to Running and healthy now, as Install does.
func (o *Orchestrator) EnsureRunning(ctx context.Context, name string) (AppReport, error) {
	s := o.state(name, false)
	if s == nil {
		err := fmt.Errorf("ensure %q: %w", name, ErrUnknownApp)
		return AppReport{App: name, Err: err}, err
	}
	if err := s.acquire(ctx); err != nil {
		return AppReport{App: name, Err: err}, err
	}
	defer s.release()
	if !s.desired {
		err := fmt.Errorf("ensure %q: %w", name, ErrUnknownApp)
		return AppReport{App: name, Err: err}, err
	}
	return o.ensure(ctx, s, nil, nil, true)
}

// UninstallOptions tune Uninstall.
type UninstallOptions struct {
	// Purge also removes the container's named volumes. Off by default: data survives.
	Purge bool
}

// Uninstall makes the app undesired and removes it now: companions are disabled first, then the
// container is stopped and removed, then the networks it owned, unless a container (another
// app's, a user's) is still attached to one: that network is kept, named in the report's Reason,
// and removed by a later pass once free. Volumes are kept unless opts.Purge. Uninstalling an
// app that is not there is not an error. If removal fails, the next pass retries it.
func (o *Orchestrator) Uninstall(ctx context.Context, name string, opts UninstallOptions) (AppReport, error) {
	var p runtime.Problems
	runtime.ValidateName(&p, "Name", name)
	if err := p.Err(fmt.Sprintf("app %q", name)); err != nil {
		return AppReport{App: name, Err: err}, err
	}
	s := o.state(name, true)
	if err := s.acquire(ctx); err != nil {
		return AppReport{App: name, Err: err}, err
	}
	defer s.release()
	o.publish(func() { s.desired, s.purge = false, opts.Purge })
	rep, err := o.ensure(ctx, s, nil, nil, true)
	return o.releaseNetworks(ctx, rep, err)
}
