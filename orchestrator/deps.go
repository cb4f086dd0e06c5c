package orchestrator

import (
	"context"
	"fmt"

	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/runtime"
)

// waitingFor names the first dependency of s that is not ready, "" when all are, and whether
// that dependency asks its dependants to stop.
func (o *Orchestrator) waitingFor(s *appState) (string, bool) {
	if !s.desired {
		return "", false
	}
	for _, d := range s.app.DependsOn {
		dep := o.state(d.App, false)
		if dep == nil {
			return d.App + " (not installed)", d.StopOnFailure
		}
		o.mu.Lock()
		st, h, desired := dep.seen.state, dep.seen.health, dep.desired
		o.mu.Unlock()
		switch {
		case !desired:
			return d.App + " (not installed)", d.StopOnFailure
		case st != runtime.StateRunning:
			return d.App + " (" + st.String() + ")", d.StopOnFailure
		case d.Condition == Healthy && h != runtime.HealthHealthy && h != runtime.HealthNone:
			return d.App + " (" + h.String() + ")", d.StopOnFailure
		}
	}
	return "", false
}

// waitingForFresh is waitingFor from a fresh observation of every dependency, for an explicit
// Install or EnsureRunning: a dependency killed since the last pass must not be taken as ready.
// Health is the engine's for exec checks and one probe for HTTP and TCP checks.
func (o *Orchestrator) waitingForFresh(ctx context.Context, s *appState) (string, bool, error) {
	if !s.desired {
		return "", false, nil
	}
	for _, d := range s.app.DependsOn {
		dep := o.state(d.App, false)
		if dep == nil {
			return d.App + " (not installed)", d.StopOnFailure, nil
		}
		o.mu.Lock()
		check, desired := dep.app.Health, dep.desired
		o.mu.Unlock()
		if !desired {
			return d.App + " (not installed)", d.StopOnFailure, nil
		}
		obs, err := o.observe(ctx, d.App)
		if err != nil {
			return "", false, fmt.Errorf("%s: observe its dependency: %w", s.spec.Name, err)
		}
		h := obs.Health
		switch check.Kind() {
		case health.KindNone:
			h = runtime.HealthNone
		case health.KindHTTP, health.KindTCP:
			h = runtime.HealthStarting
			if r, _ := o.opts.Prober(check).Probe(ctx); r {
				h = runtime.HealthHealthy
			}
		}
		switch {
		case obs.State != runtime.StateRunning:
			return d.App + " (" + obs.State.String() + ")", d.StopOnFailure, nil
		case d.Condition == Healthy && h != runtime.HealthHealthy && h != runtime.HealthNone:
			return d.App + " (" + h.String() + ")", d.StopOnFailure, nil
		}
	}
	return "", false, nil
}
