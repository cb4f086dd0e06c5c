//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// recovery measures, for skerry and for Quadlet + systemd, the time from `podman kill` to
// running and healthy again: one app at a time, and a burst (kill apps of burstN at once).
func (e *env) recovery(ctx context.Context, burstN, kill int) error {
	fmt.Fprintf(e.out, "## 3. Recovery: from `podman kill` (SIGKILL) to running and healthy again\n\n")
	fmt.Fprintf(e.out, "min / median / max in ms. Back = a new run started and its first passing check recorded (podman's timestamps of the start and health_status events; the benchmark polls nothing and runs no check). Each kill hits a different app (a second kill of one app would meet skerry's crash-loop backoff, or systemd's start limit). skerry (default options): its exit wait sees the death, a pass over the app starts it and runs its check at once. Quadlet + systemd: `Restart=always` after the default RestartSec (100 ms), then `podman run` (the unit removes and recreates the container) and the first check at start (Notify=healthy). Neither side waits for a guard here: the check is the measure.\n\n")
	single := appNames("rec", *reps)
	burst := appNames("burst", burstN)
	peers := []struct {
		name string
		up   func(ctx context.Context, names []string) (func(), error)
	}{
		{"skerry", func(ctx context.Context, names []string) (func(), error) {
			nd, _, err := e.startNode(ctx, names)
			if err != nil {
				return func() {}, err
			}
			return func() { nd.close(ctx) }, nil
		}},
		{"Quadlet + systemd", func(ctx context.Context, names []string) (func(), error) {
			_, err := e.quadletUp(ctx, names)
			return func() { e.quadletDown(ctx, names) }, err
		}},
	}
	rec, err := e.record(ctx)
	if err != nil {
		return err
	}
	defer rec.close()
	singles := make([]stats, len(peers))
	bursts := make([]stats, len(peers))
	for i, p := range peers {
		for _, set := range []struct {
			names []string
			into  *stats
			size  int
		}{{single, &singles[i], 1}, {burst, &bursts[i], kill}} {
			down, err := p.up(ctx, set.names)
			if err == nil {
				time.Sleep(3 * time.Second) // let the bring-up settle (its exit waits, the engine)
				*set.into, err = e.kills(ctx, rec, set.names, set.size)
			}
			down()
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
		}
	}
	fmt.Fprintf(e.out, "| measure | skerry | Quadlet + systemd | Quadlet / skerry (median) |\n|---|---|---|---|\n")
	fmt.Fprintf(e.out, "| one app killed -> back (%d kills) | %s | %s | **%s** |\n", len(single), singles[0], singles[1], ratio(singles[1].med, singles[0].med))
	fmt.Fprintf(e.out, "| %d of %d apps killed at once -> all back (%d rounds) | %s | %s | **%s** |\n\n", kill, burstN, len(burst)/kill, bursts[0], bursts[1], ratio(bursts[1].med, bursts[0].med))
	return nil
}

// kills kills the named apps size at a time (at once within a round, a round per size names),
// and returns the time from each round's kill to the last of its apps back.
func (e *env) kills(ctx context.Context, rec *recorder, names []string, size int) (stats, error) {
	var ds []time.Duration
	for lo := 0; lo+size <= len(names); lo += size {
		round := names[lo : lo+size]
		killed := time.Now()
		errs := make([]error, len(round))
		var wg sync.WaitGroup
		for i, n := range round {
			wg.Go(func() { errs[i] = e.rt.Runtime.Kill(ctx, n, "SIGKILL") })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return stats{}, err
		}
		d, err := rec.waitBack(ctx, round, killed)
		if err != nil {
			return stats{}, err
		}
		ds = append(ds, d)
		time.Sleep(2500 * time.Millisecond) // let the round's passes and the engine settle before the next
	}
	return summarize(ds), nil
}
