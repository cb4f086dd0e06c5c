package skerry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/quadlet"
	"github.com/skerry-dev/skerry/runtime"
)

// Apps returns the desired apps, sorted by name: what New and Install were given, less what
// Uninstall removed.
func (s *Supervisor) Apps() []App {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]App, 0, len(s.apps))
	for _, a := range s.apps {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b App) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Install adds app to the supervised set, or updates it, and brings it up now: hooks, the
// container created or repaired and ready, then its companions (orchestrator.Install). A
// changed spec is an upgrade: when the new release does not become ready the app is put back on
// its last good spec and the error wraps runtime.ErrRolledBack. An invalid app, companion or
// dependency returns a typed error (matching runtime.ErrInvalidSpec) and changes nothing (its
// report goes nowhere else); any other report also goes to the status and to Options.OnReport.
// Install and Uninstall of one app run one at a time; one whose ctx ends while it waits for
// another changes nothing either, and returns an error wrapping orchestrator.ErrInterrupted.
func (s *Supervisor) Install(ctx context.Context, app App) (Report, error) {
	start := time.Now()
	fail := func(err error) (Report, error) {
		return Report{Source: SourceInstall, Start: start, Duration: time.Since(start), Err: err, Interrupted: interrupted(err)}, err
	}
	if err := app.Validate(); err != nil {
		return fail(err)
	}
	if len(app.Companions) > 0 && s.comps == nil {
		return fail(fmt.Errorf("app %q: %w", app.Name, ErrNoUnitManager))
	}
	unlock, err := s.lockApp(ctx, app.Name)
	if err != nil {
		return fail(err)
	}
	defer unlock()
	s.mu.Lock()
	prev := s.apps[app.Name]
	s.mu.Unlock()
	if s.comps != nil { // the orchestrator installs them once the app is ready
		if err := s.comps.Register(app.Name, app.Companions...); err != nil {
			return fail(err)
		}
	}
	ar, err := s.orch.Install(ctx, app.App)
	if errors.Is(err, runtime.ErrInvalidSpec) {
		// Refused before any side effect (its dependencies): the companions go back too.
		if s.comps != nil {
			if rerr := s.comps.Register(app.Name, prev.Companions...); rerr != nil {
				s.log.Error("restoring the companions of a refused app", "app", app.Name, "err", rerr)
			}
		}
		return fail(err)
	}
	s.mu.Lock()
	s.apps[app.Name] = app
	s.mu.Unlock()
	s.status.want(app)
	rep := Report{Source: SourceInstall, Start: start, Err: err, Interrupted: interrupted(err), Apps: []orchestrator.AppReport{ar}}
	if err == nil && s.comps != nil {
		for _, c := range app.Companions { // their states, for the report and the status
			rep.Companions = append(rep.Companions, s.comps.ReconcileUnit(ctx, quadlet.ServiceName(c.Name))...)
		}
	}
	rep.Duration = time.Since(start)
	unlock() // before OnReport, which may Install or Uninstall the app
	s.deliver(rep)
	return rep, err
}

// Uninstall removes the app named name from the supervised set and from the node now:
// companions disabled first, then the container stopped and removed; volumes are kept unless
// opts.Purge. When removal fails, the next pass retries it. Uninstalling an app that is not
// there is not an error. An invalid name returns a typed error (matching runtime.ErrInvalidSpec)
// and changes nothing, as does a ctx that ends while another Install or Uninstall of the app
// runs; any other report also goes to the status and to Options.OnReport.
func (s *Supervisor) Uninstall(ctx context.Context, name string, opts orchestrator.UninstallOptions) (Report, error) {
	start := time.Now()
	fail := func(err error) (Report, error) {
		return Report{Source: SourceUninstall, Start: start, Duration: time.Since(start), Err: err, Interrupted: interrupted(err)}, err
	}
	var p runtime.Problems
	runtime.ValidateName(&p, "Name", name)
	if err := p.Err(fmt.Sprintf("app %q", name)); err != nil {
		return fail(err)
	}
	unlock, err := s.lockApp(ctx, name)
	if err != nil {
		return fail(err)
	}
	defer unlock()
	s.status.unwant(name)
	ar, err := s.orch.Uninstall(ctx, name, opts)
	s.mu.Lock()
	delete(s.apps, name)
	s.mu.Unlock()
	rep := Report{Source: SourceUninstall, Start: start, Duration: time.Since(start), Err: err,
		Interrupted: interrupted(err), Apps: []orchestrator.AppReport{ar}}
	unlock() // before OnReport, which may Install or Uninstall the app
	s.deliver(rep)
	return rep, err
}

// lockApp takes the lock of the app named name, which serializes its Install and Uninstall, or
// returns an error wrapping orchestrator.ErrInterrupted when ctx ends first. unlock may be
// called more than once. The lock is dropped from s.locks when its last user is done with it.
func (s *Supervisor) lockApp(ctx context.Context, name string) (unlock func(), err error) {
	s.mu.Lock()
	l := s.locks[name]
	if l == nil {
		l = &appLock{held: make(chan struct{}, 1)}
		s.locks[name] = l
	}
	l.users++
	s.mu.Unlock()
	done := func() {
		s.mu.Lock()
		if l.users--; l.users == 0 {
			delete(s.locks, name)
		}
		s.mu.Unlock()
	}
	if ctx.Err() == nil {
		select {
		case l.held <- struct{}{}:
			return sync.OnceFunc(func() { <-l.held; done() }), nil
		case <-ctx.Done():
		}
	}
	done()
	return nil, fmt.Errorf("app %q: %w (%w)", name, orchestrator.ErrInterrupted, ctx.Err())
}

// appLock is one app's Install/Uninstall lock: held while its channel is full, kept in
// Supervisor.locks while users (holders and waiters) have it.
type appLock struct {
	held  chan struct{}
	users int
}
