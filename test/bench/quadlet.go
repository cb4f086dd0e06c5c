//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/skerry-dev/skerry/quadlet"
)

// The Quadlet + systemd peer: what a user would write instead of embedding skerry. Each app is
// a .container unit with the same image, command and exec check, Notify=healthy (the start job
// ends when the first check passed) and Restart=always with systemd's default RestartSec
// (100 ms): no RestartSec line.
func quadletUnit(name string) quadlet.Unit {
	a := benchApp(name)
	return quadlet.Unit{
		Description: "bench peer " + name,
		Container: quadlet.Container{
			Image: image, ContainerName: name, Exec: a.Container.Command,
			HealthCmd: a.Health.Exec, HealthInterval: checkInterval,
			Notify: "healthy", StopTimeout: time.Second,
		},
		Service: quadlet.Service{Restart: "always"},
	}
}

// quadletUp writes a unit per name, reloads systemd (which runs the Quadlet generator) and
// starts every unit at once; it returns when every start job ended (with Notify=healthy: when
// every container passed its first check), with how long that took from the first write.
func (e *env) quadletUp(ctx context.Context, names []string) (time.Duration, error) {
	dir, err := quadlet.UserDir()
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	start := time.Now()
	for _, n := range names {
		b, err := quadlet.Render(n, quadletUnit(n), quadlet.Options{})
		if err != nil {
			return 0, err
		}
		if _, err := quadlet.WriteIfChanged(filepath.Join(dir, quadlet.FileName(n)), b, 0o644); err != nil {
			return 0, err
		}
	}
	if err := e.units.Reload(ctx); err != nil {
		return 0, err
	}
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() { errs[i] = e.units.Start(ctx, quadlet.ServiceName(n)) })
	}
	wg.Wait()
	return time.Since(start), errors.Join(errs...)
}

// quadletDown stops every unit at once, removes the files and reloads; it returns how long
// that took.
func (e *env) quadletDown(ctx context.Context, names []string) (time.Duration, error) {
	dir, err := quadlet.UserDir()
	if err != nil {
		return 0, err
	}
	start := time.Now()
	errs := make([]error, len(names)+1)
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() {
			errs[i] = e.units.Stop(ctx, quadlet.ServiceName(n))
			if _, err := quadlet.Remove(filepath.Join(dir, quadlet.FileName(n))); err != nil {
				errs[i] = errors.Join(errs[i], err)
			}
		})
	}
	wg.Wait()
	errs[len(names)] = e.units.Reload(ctx)
	for _, n := range names {
		e.units.ResetFailed(ctx, quadlet.ServiceName(n))
	}
	return time.Since(start), errors.Join(errs...)
}
