package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/skerry-dev/skerry/runtime"
)

// networkSweep says when a pass looks for networks to remove: at the first pass (the host is
// the truth: a crashed uninstall may have left one), then only while one is kept (in use, or
// its removal failed). Passes of a node without such networks make no network call.
type networkSweep struct {
	mu      sync.Mutex
	done    bool // a sweep ran and left nothing pending
	pending bool
}

func (w *networkSweep) due() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.done || w.pending
}

// finished records a sweep's outcome. A sweep limited to one app can only add to what is
// pending: it did not look at the other apps' networks.
func (w *networkSweep) finished(pending, scoped bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if scoped {
		w.pending = w.pending || pending
		return
	}
	w.done, w.pending = true, pending
}

// checkNetworkOwners refuses app when it owns a network and the runtime cannot manage networks,
// or when another desired app (registered, or in extra, which replaces registered apps of the
// same name) owns a network of the same name. A clash within extra is reported on the app whose
// name sorts first. Called with o.mu held.
func (o *Orchestrator) checkNetworkOwners(app App, extra map[string]App) error {
	if len(app.Networks) == 0 {
		return nil
	}
	subject := fmt.Sprintf("app %q", app.Name)
	if _, ok := o.rt.(runtime.NetworkManager); !ok {
		return &NetworkOwnerError{Reason: ErrNoNetworkManager, ValidationError: runtime.ValidationError{Subject: subject,
			Problems: []runtime.FieldError{{Field: "Networks", Msg: fmt.Sprintf("the runtime (%T) cannot create networks", o.rt)}}}}
	}
	var p runtime.Problems
	for name, other := range o.otherApps(app, extra) {
		for i, mine := range app.Networks {
			for _, theirs := range other.Networks {
				if mine.Name == theirs.Name {
					p.Add(fmt.Sprintf("Networks[%d]", i), "network %q is also owned by app %q", mine.Name, name)
				}
			}
		}
	}
	if len(p) == 0 {
		return nil
	}
	return &NetworkOwnerError{Reason: ErrNetworkClash, ValidationError: runtime.ValidationError{Subject: subject, Problems: p}}
}

// NetworkOwnerError is the validation error of an app whose owned networks cannot be: another
// app owns one of the same name (Reason ErrNetworkClash) or the runtime cannot create networks
// (Reason ErrNoNetworkManager). errors.Is(err, runtime.ErrInvalidSpec) and errors.Is(err,
// Reason) hold.
type NetworkOwnerError struct {
	runtime.ValidationError
	Reason error
}

// Is makes errors.Is(err, e.Reason) and errors.Is(err, runtime.ErrInvalidSpec) true.
func (e *NetworkOwnerError) Is(target error) bool {
	return target == e.Reason || target == runtime.ErrInvalidSpec
}

// Error names the reason before the problems.
func (e *NetworkOwnerError) Error() string {
	return e.Reason.Error() + ": " + e.ValidationError.Error()
}

// checkNetworkOwnersOf runs checkNetworkOwners on apps (registered together as extra) under
// o.mu and returns the errors.
func (o *Orchestrator) checkNetworkOwnersOf(apps []App, extra map[string]App) []error {
	o.mu.Lock()
	defer o.mu.Unlock()
	var errs []error
	for _, a := range apps {
		if err := o.checkNetworkOwners(a, extra); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// otherApps returns the desired apps other than app, extra replacing registered apps of the
// same name; apps of extra whose name sorts before app's are left out (a clash between two of
// extra is reported once). Called with o.mu held.
func (o *Orchestrator) otherApps(app App, extra map[string]App) map[string]App {
	others := map[string]App{}
	for name, s := range o.apps {
		if s.desired && name != app.Name {
			others[name] = s.app
		}
	}
	for name, a := range extra {
		switch {
		case name == app.Name:
		case name < app.Name:
			delete(others, name)
		default:
			others[name] = a
		}
	}
	return others
}

// checkNetworksOnHost refuses, before any side effect, apps whose owned networks exist and are
// not theirs or have other options, and apps whose container joins a named network that no
// desired app (registered or among apps) owns and that does not exist. It makes one runtime
// call, and none when no app owns or joins a named network or the runtime cannot list
// networks. An engine that cannot be reached is not a refusal (as checkHost).
func (o *Orchestrator) checkNetworksOnHost(ctx context.Context, apps []App) error {
	nm, ok := o.rt.(runtime.NetworkManager)
	if !ok || !slices.ContainsFunc(apps, func(a App) bool {
		return len(a.Networks) > 0 || a.Container.Network.Mode == runtime.NetworkNamed
	}) {
		return nil
	}
	observed, err := nm.ListNetworks(ctx, nil)
	if errors.Is(err, runtime.ErrUnavailable) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list networks: %w", err)
	}
	owned := map[string][]Network{}
	o.mu.Lock()
	for name, s := range o.apps {
		if s.desired {
			owned[name] = s.app.Networks
		}
	}
	o.mu.Unlock()
	for _, a := range apps {
		owned[a.Name] = a.Networks
	}
	exists := map[string]bool{}
	for _, n := range observed {
		exists[n.Name] = true
	}
	for _, nets := range owned {
		for _, n := range nets {
			exists[n.Name] = true
		}
	}
	var errs []error
	for _, a := range apps {
		errs = append(errs, PlanNetworks(NetworkFacts{Owned: map[string][]Network{a.Name: a.Networks}, Observed: observed}).Problems...)
		if n := a.Container.Network; n.Mode == runtime.NetworkNamed && !exists[n.Name] {
			errs = append(errs, fmt.Errorf("app %q joins network %q: no app owns it and it does not exist: %w", a.Name, n.Name, ErrNoSuchNetwork))
		}
	}
	return errors.Join(errs...)
}

// ensureNetworks creates, before app's container is created, the networks it needs that are
// missing: those it owns, and the one it joins when another desired app owns it (labeled as
// that app's), so that the order in which a pass creates containers does not matter. An owned
// network that exists but is not as its app wants it is left alone and logged: the container
// can join it, and Install refused it already.
func (o *Orchestrator) ensureNetworks(ctx context.Context, app App) error {
	owned := map[string][]Network{}
	if len(app.Networks) > 0 {
		owned[app.Name] = app.Networks
	}
	if joined := app.Container.Network; joined.Mode == runtime.NetworkNamed {
		o.mu.Lock()
		for name, s := range o.apps {
			for _, n := range s.app.Networks {
				if s.desired && name != app.Name && n.Name == joined.Name {
					owned[name] = []Network{n}
				}
			}
		}
		o.mu.Unlock()
	}
	if len(owned) == 0 {
		return nil
	}
	nm, ok := o.rt.(runtime.NetworkManager)
	if !ok {
		return fmt.Errorf("app %q needs owned networks: %w", app.Name, ErrNoNetworkManager)
	}
	observed, err := nm.ListNetworks(ctx, nil)
	if err != nil {
		return fmt.Errorf("list networks: %w", err)
	}
	plan := PlanNetworks(NetworkFacts{Owned: owned, Observed: observed})
	for _, p := range plan.Problems {
		o.log.Warn("owned network left as it is", "app", app.Name, "err", p)
	}
	for _, spec := range plan.Create {
		if err := nm.CreateNetwork(ctx, spec); err != nil && !errors.Is(err, runtime.ErrAlreadyExists) {
			return fmt.Errorf("create network %s of %s: %w", spec.Name, app.Name, err)
		}
		o.log.Info("network created", "app", app.Name, "network", spec.Name)
	}
	return nil
}

// sweepNetworks removes the managed networks (those of app only, when app is set) that no
// desired app owns or joins. Those of the sweep's networks that are left, still in use or
// joined by a desired app (when app is set, all of app's that are left), are returned; the
// sweep runs again at every pass until they are gone.
func (o *Orchestrator) sweepNetworks(ctx context.Context, app string) (kept []string, err error) {
	nm, ok := o.rt.(runtime.NetworkManager)
	if !ok {
		return nil, nil
	}
	pending := true
	defer func() { o.netSweep.finished(pending, app != "") }()
	labels := map[string]string{runtime.LabelManaged: "true"}
	if app != "" {
		labels[runtime.LabelApp] = app
	}
	observed, err := nm.ListNetworks(ctx, labels)
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	facts := NetworkFacts{Owned: map[string][]Network{}, Joined: map[string]bool{}, Observed: observed}
	o.mu.Lock()
	for name, s := range o.apps {
		if s.desired {
			facts.Owned[name] = s.app.Networks
			if n := s.app.Container.Network; n.Mode == runtime.NetworkNamed {
				facts.Joined[n.Name] = true
			}
		}
	}
	o.mu.Unlock()
	var errs []error
	owned := map[string]bool{}
	for _, nets := range facts.Owned {
		for _, n := range nets {
			owned[n.Name] = true
		}
	}
	remove := PlanNetworks(facts).Remove
	for _, n := range observed {
		if n.Labels[runtime.LabelApp] != "" && !owned[n.Name] && facts.Joined[n.Name] {
			kept = append(kept, n.Name) // its owner is gone, a desired app still joins it
		}
	}
	for _, name := range remove {
		err := nm.RemoveNetwork(ctx, name)
		switch {
		case err == nil:
			o.log.Info("network removed", "network", name)
		case errors.Is(err, runtime.ErrNotFound):
		case errors.Is(err, runtime.ErrNetworkInUse):
			kept = append(kept, name)
			o.log.Info("network kept: in use", "network", name, "err", err)
		default:
			errs = append(errs, fmt.Errorf("remove network %s: %w", name, err))
		}
	}
	pending = len(kept) > 0 || len(errs) > 0
	slices.Sort(kept)
	return kept, errors.Join(errs...)
}

// noteDropped schedules a sweep when a desired app's new release no longer owns a network its
// previous one did: it is removed once free (after the container is recreated elsewhere).
func (o *Orchestrator) noteDropped(old, next App) {
	for _, n := range old.Networks {
		if !slices.ContainsFunc(next.Networks, func(m Network) bool { return m.Name == n.Name }) {
			o.netSweep.finished(true, true)
			return
		}
	}
}

// releaseNetworks removes the networks of an uninstalled app (rep's) once its uninstall
// succeeded (uninstallErr is nil), and names those kept in rep.Reason. Otherwise, or when a
// removal fails, the next pass sweeps.
func (o *Orchestrator) releaseNetworks(ctx context.Context, rep AppReport, uninstallErr error) (AppReport, error) {
	if uninstallErr != nil {
		o.netSweep.finished(true, true)
		return rep, uninstallErr
	}
	kept, err := o.sweepNetworks(ctx, rep.App)
	if len(kept) > 0 {
		rep.Reason += fmt.Sprintf("; networks kept while in use: %s", strings.Join(kept, ", "))
	}
	if err != nil {
		rep.Err = err
	}
	return rep, err
}
