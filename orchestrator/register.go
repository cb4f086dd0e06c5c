package orchestrator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/skerry-dev/skerry/runtime"
)

// Register records app as desired without acting; the next pass brings it up. A daemon calls it
// for every app at start-up, before the reconciler's first pass. It validates app first.
func (o *Orchestrator) Register(ctx context.Context, app App) error {
	return o.RegisterAll(ctx, app)
}

// RegisterAll registers apps as a set: dependencies may point at each other in any order. It
// validates every app, its inputs (secrets, consumers), the dependency graph (unknown
// dependencies, cycles), the host ports (two apps may not publish the same one), the networks
// (two apps may not own the same one; the runtime must manage networks when an app owns one)
// and whether the host can run it (runtime.HostChecker; its networks: see Network) first, and
// registers nothing when any problem is found or ctx ends first.
func (o *Orchestrator) RegisterAll(ctx context.Context, apps ...App) error {
	return o.registerAll(ctx, true, apps)
}

// RegisterAllNoHostCheck is RegisterAll without the host check: it makes no runtime call, for a
// constructor that promises none (skerry.New). A container the host cannot run is then refused
// where it is created, in the pass that starts it.
func (o *Orchestrator) RegisterAllNoHostCheck(ctx context.Context, apps ...App) error {
	return o.registerAll(ctx, false, apps)
}

func (o *Orchestrator) registerAll(ctx context.Context, hostCheck bool, apps []App) error {
	extra := make(map[string]App, len(apps))
	var errs []error
	for _, a := range apps {
		if err := a.Validate(); err != nil {
			errs = append(errs, err)
		} else if err := o.checkInputs(a); err != nil {
			errs = append(errs, err)
		} else if hostCheck {
			if err := o.checkHost(ctx, a); err != nil {
				errs = append(errs, err)
			}
		}
		if _, dup := extra[a.Name]; dup {
			errs = append(errs, fmt.Errorf("app %q is listed twice: %w", a.Name, runtime.ErrInvalidSpec))
		}
		extra[a.Name] = a
	}
	if hostCheck && len(errs) == 0 {
		// Who owns which network first: a clash is the clearer error.
		if errs = o.checkNetworkOwnersOf(apps, extra); len(errs) == 0 {
			errs = append(errs, o.checkNetworksOnHost(ctx, apps))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// Every app's lock, taken in name order (no other holder takes two), so that the set is
	// registered whole or not at all.
	var held []*appState
	defer func() {
		for _, s := range held {
			s.release()
		}
	}()
	names := slices.Sorted(maps.Keys(extra))
	for _, name := range names {
		s := o.state(name, true)
		if err := s.acquire(ctx); err != nil {
			return err
		}
		held = append(held, s)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, a := range apps {
		errs = append(errs, o.checkGraph(a, extra), o.checkPorts(a, extra), o.checkNetworkOwners(a, extra))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i, s := range held {
		a := extra[names[i]]
		o.noteDropped(s.app, a)
		s.app, s.spec, s.desired, s.purge = a, o.specOf(a), true, false
	}
	return nil
}

// setDesired records app as desired after checking its dependency graph again under the lock
// (another registration may have raced). The caller holds s.lock.
func (o *Orchestrator) setDesired(s *appState, app App, extra map[string]App) error {
	if err := o.checkInputs(app); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.checkGraph(app, extra); err != nil {
		return err
	}
	if err := o.checkPorts(app, extra); err != nil {
		return err
	}
	if err := o.checkNetworkOwners(app, extra); err != nil {
		return err
	}
	o.noteDropped(s.app, app)
	s.app, s.spec, s.desired, s.purge = app, o.specOf(app), true, false
	return nil
}

// checkGraph validates app's dependencies against the registered apps plus extra (apps being
// registered together): every dependency must be known and no cycle may form. Called with o.mu
// held.
func (o *Orchestrator) checkGraph(app App, extra map[string]App) error {
	depsOf := func(name string) []Dependency {
		if name == app.Name {
			return app.DependsOn
		}
		if a, ok := extra[name]; ok {
			return a.DependsOn
		}
		if s := o.apps[name]; s != nil && s.desired {
			return s.app.DependsOn
		}
		return nil
	}
	known := func(name string) bool {
		_, inExtra := extra[name]
		s := o.apps[name]
		return name == app.Name || inExtra || (s != nil && s.desired)
	}
	var p runtime.Problems
	for i, d := range app.DependsOn {
		if !known(d.App) {
			p.Add(fmt.Sprintf("DependsOn[%d]", i), "%q is not a registered app", d.App)
		}
	}
	// Depth-first search for a path from any dependency back to app.
	var cycle []string
	var visit func(name string, path []string, seen map[string]bool) bool
	visit = func(name string, path []string, seen map[string]bool) bool {
		if name == app.Name && len(path) > 0 {
			cycle = append(path, name)
			return true
		}
		if seen[name] {
			return false
		}
		seen[name] = true
		for _, d := range depsOf(name) {
			if visit(d.App, append(path, name), seen) {
				return true
			}
		}
		return false
	}
	if visit(app.Name, nil, map[string]bool{}) {
		p.Add("DependsOn", "dependency cycle: %s", strings.Join(cycle, " -> "))
	}
	return p.Err(fmt.Sprintf("app %q", app.Name))
}

// checkPorts refuses app when it publishes a host port that another desired app publishes too
// (registered, or in extra, which replaces registered apps of the same name): the same port and
// protocol on the same host IP, or on any IP when either binds all ("" or 0.0.0.0 / ::).
// Host-networked apps publish nothing. A clash within extra is reported once, on the app whose
// name sorts first. Called with o.mu held.
func (o *Orchestrator) checkPorts(app App, extra map[string]App) error {
	if app.Container.Network.Mode == runtime.NetworkHost || len(app.Container.Ports) == 0 {
		return nil
	}
	others := map[string]App{}
	for name, s := range o.apps {
		if s.desired && name != app.Name {
			others[name] = s.app
		}
	}
	for name, a := range extra {
		if name == app.Name {
			continue
		}
		if name < app.Name {
			delete(others, name) // reported on that app
			continue
		}
		others[name] = a
	}
	var p runtime.Problems
	for i, mine := range app.Container.Ports {
		for _, name := range slices.Sorted(maps.Keys(others)) {
			other := others[name]
			if other.Container.Network.Mode == runtime.NetworkHost {
				continue
			}
			for _, theirs := range other.Container.Ports {
				if portsClash(mine, theirs) {
					p.Add(fmt.Sprintf("Container.Ports[%d]", i), "host port %s is also published by app %q", portString(mine), name)
				}
			}
		}
	}
	if len(p) == 0 {
		return nil
	}
	return &PortClashError{ValidationError: runtime.ValidationError{Subject: fmt.Sprintf("app %q", app.Name), Problems: p}}
}

// PortClashError is the validation error of an app that publishes a host port another app
// publishes: errors.Is(err, runtime.ErrInvalidSpec) and errors.Is(err, ErrPortClash) hold.
type PortClashError struct {
	runtime.ValidationError
}

// ErrPortClash: two apps publish the same host port.
var ErrPortClash = errors.New("host port published twice")

// Is makes errors.Is(err, ErrPortClash) and errors.Is(err, runtime.ErrInvalidSpec) true.
func (e *PortClashError) Is(target error) bool {
	return target == ErrPortClash || target == runtime.ErrInvalidSpec
}

func portsClash(a, b runtime.Port) bool {
	if cmp.Or(a.Protocol, "tcp") != cmp.Or(b.Protocol, "tcp") {
		return false
	}
	if !anyIP(a.HostIP) && !anyIP(b.HostIP) && a.HostIP != b.HostIP {
		return false
	}
	aEnd := int(a.HostPort) + int(max(a.Count, 1)) - 1
	bEnd := int(b.HostPort) + int(max(b.Count, 1)) - 1
	return int(a.HostPort) <= bEnd && int(b.HostPort) <= aEnd
}

func anyIP(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }

func portString(p runtime.Port) string {
	s := fmt.Sprint(p.HostPort)
	if p.Count > 1 {
		s += fmt.Sprintf("-%d", int(p.HostPort)+int(p.Count)-1)
	}
	s += "/" + cmp.Or(p.Protocol, "tcp")
	if p.HostIP != "" {
		s = p.HostIP + ":" + s
	}
	return s
}
