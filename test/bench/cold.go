//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package main

import (
	"context"
	"fmt"
	"time"
)

// cold measures a cold start of n apps, from nothing to all up, by each peer, runs interleaved
// (one of each per round) so that a noisy moment hits all of them.
func (e *env) cold(ctx context.Context, n int) error {
	fmt.Fprintf(e.out, "## 2. Cold start of N = %d apps, from nothing to all up and healthy\n\n", n)
	fmt.Fprintf(e.out, "min / median / max in ms over %d rounds; each round runs every peer once, one after the other. Two clocks per peer: *done* is when the tool says the apps are up, *all checked* is the time of the last app's first passing check (podman's timestamp of its health_status event), the same measure for every peer.\n\n", *slow)
	fmt.Fprintf(e.out, "- skerry (default options: 4 workers, exec checks run by the supervisor): `New` + `Run` until its first pass reported. Done waits for every app's first passing check, as Quadlet's does; no guard (skerry's MinUptime, 2 s of uptime on top of the check, guards only apps without a check and upgrades, which keep the previous release until the new one passed it).\n")
	fmt.Fprintf(e.out, "- Quadlet + systemd: write %d units, `daemon-reload`, start all at once. Done when every start job ended: with Notify=healthy, at each app's first passing check (podman runs it at start); no guard.\n", n)
	fmt.Fprintf(e.out, "- podman-compose: `up -d`, then the same checks, all at once, round after round, until all passed; no guard.\n\n")
	rec, err := e.record(ctx)
	if err != nil {
		return err
	}
	defer rec.close()
	peers := []struct {
		name string
		run  func(ctx context.Context, names []string) (time.Duration, func(), error)
	}{
		{"skerry", func(ctx context.Context, names []string) (time.Duration, func(), error) {
			nd, took, err := e.startNode(ctx, names)
			if err != nil {
				return 0, func() {}, err
			}
			return took, func() { nd.close(ctx) }, nil
		}},
		{"Quadlet + systemd", func(ctx context.Context, names []string) (time.Duration, func(), error) {
			took, err := e.quadletUp(ctx, names)
			return took, func() { e.quadletDown(ctx, names) }, err
		}},
		{"podman-compose", func(ctx context.Context, names []string) (time.Duration, func(), error) {
			project := names[0][:len(names[0])-4]
			file, err := composeFile(project, len(names))
			if err != nil {
				return 0, func() {}, err
			}
			start := time.Now()
			down := func() { composeCmd(file, project, "down", "-t", "1") }
			if err := composeCmd(file, project, "up", "-d"); err != nil {
				return 0, down, err
			}
			err = e.allHealthy(ctx, names)
			return time.Since(start), down, err
		}},
	}
	done := make([][]time.Duration, len(peers))
	checked := make([][]time.Duration, len(peers))
	for r := range *slow {
		for i, p := range peers {
			names := appNames(fmt.Sprintf("cold%d%d", i, r), n)
			start := time.Now()
			took, down, err := p.run(ctx, names)
			if err == nil {
				var last time.Duration
				if last, err = rec.waitBack(ctx, names, start); err == nil {
					done[i], checked[i] = append(done[i], took), append(checked[i], last)
				}
			}
			down()
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			time.Sleep(2 * time.Second) // let the removals settle
		}
	}
	fmt.Fprintf(e.out, "| peer | done | all checked |\n|---|---|---|\n")
	for i, p := range peers {
		fmt.Fprintf(e.out, "| %s | %s | %s |\n", p.name, summarize(done[i]), summarize(checked[i]))
	}
	sk, q, c := summarize(done[0]).med, summarize(done[1]).med, summarize(done[2]).med
	skc := summarize(checked[0]).med
	fmt.Fprintf(e.out, "\nMedians (each side's done waits for every app's first passing check, no guard on any side): Quadlet + systemd done / skerry done = **%s**; compose done / skerry done = **%s**. By the same clock for all (all checked): Quadlet / skerry = %s, compose / skerry = %s.\n\n",
		ratio(q, sk), ratio(c, sk), ratio(summarize(checked[1]).med, skc), ratio(summarize(checked[2]).med, skc))
	return nil
}
