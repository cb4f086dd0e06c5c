package orchestrator_test

import (
	"context"
	"errors"
	"time"

	"pgregory.net/rapid"

	"github.com/skerry-dev/skerry/orchestrator"
)

// The model's steps about daemons that stop: restarts and interrupted upgrades.

// restart replaces the orchestrator by a fresh one, as a restarted daemon would, registered
// with what the old one desired: a held app with its failed release, which it must keep
// holding.
func (m *model) restart(t *rapid.T) {
	m.o = orchestrator.New(m.rt, orchestrator.Options{Logger: quiet, ScheduleExecChecks: m.scheduled})
	var apps []orchestrator.App
	for _, name := range modelApps {
		if !m.desired[name] {
			continue
		}
		a := m.app(name)
		if m.held[name] {
			a.Container.Image = m.failed[name]
		}
		apps = append(apps, a)
	}
	c, cancel := ctx()
	defer cancel()
	if err := m.o.RegisterAll(c, apps...); err != nil {
		t.Fatalf("register after a restart: %v", err)
	}
	// An uninstall that had failed is the daemon's to issue again (a fresh orchestrator leaves
	// containers of apps it does not know alone).
	for _, name := range modelApps {
		if _, _, exists := m.rt.Container(name); exists && !m.desired[name] {
			if _, err := m.o.Uninstall(c, name, orchestrator.UninstallOptions{Purge: m.purged[name]}); err != nil && !m.faulty {
				t.Fatalf("uninstall %s after a restart: %v", name, err)
			}
		}
	}
	if m.faulty {
		return
	}
	rep := m.o.ReconcileAll(c)
	for _, name := range modelApps {
		if m.desired[name] {
			m.mustBeUp(t, name)
		}
		if _, held := m.o.Held(name); held != (m.held[name] && m.desired[name]) {
			t.Fatalf("after a restart, %s held=%v, want %v: %v", name, held, m.held[name], rep)
		}
	}
}

// interruptedUpgrade upgrades an app to a good release under a context that ends at a random
// moment (a daemon stopped mid-upgrade); the next pass must finish the upgrade.
func (m *model) interruptedUpgrade(t *rapid.T) {
	if m.faulty {
		t.Skip("faults active")
	}
	name := rapid.SampledFrom(modelApps).Draw(t, "app")
	c, cancel := ctx()
	defer cancel()
	if _, err := m.o.Install(c, m.app(name)); err != nil {
		t.Fatalf("install %s: %v", name, err)
	}
	m.desired[name], m.purged[name], m.held[name] = true, false, false
	next := imageV2
	if m.app(name).Container.Image == imageV2 {
		next = image
	}
	m.image[name] = next
	after := rapid.SampledFrom([]time.Duration{0, time.Millisecond, 100 * time.Millisecond, time.Second, 1500 * time.Millisecond, 3 * time.Second}).Draw(t, "after")
	ic, stop := context.WithCancel(context.Background())
	go func() {
		time.Sleep(after)
		stop()
	}()
	_, err := m.o.Install(ic, m.app(name))
	if err != nil && !errors.Is(err, orchestrator.ErrInterrupted) {
		t.Fatalf("interrupted upgrade of %s: %v", name, err)
	}
	<-ic.Done()
	if err != nil {
		// Interrupted before the new spec was recorded (the app's lock was not taken yet), or
		// after: the orchestrator says which spec it keeps the app on.
		eff, ok := m.o.Effective(name)
		if !ok {
			t.Fatalf("effective spec of %s unknown", name)
		}
		m.image[name] = eff.Container.Image
	}
	rep := m.o.ReconcileAll(c)
	for _, a := range rep.Apps {
		if a.App == name && !a.OK() {
			t.Fatalf("the pass after an interrupted upgrade of %s: %v", name, rep)
		}
	}
	m.mustBeUp(t, name)
}
