//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// firstLine is err's first line, for a table cell.
func firstLine(err error) string {
	l, _, _ := strings.Cut(err.Error(), "\n")
	return strings.ReplaceAll(l, "|", "/")
}

// noop measures the no-op pass over N running, healthy apps against one raw list call and
// podman-compose's `up -d` over as many running services; for the largest N, also the
// bring-up and the uninstall of all, skerry against Quadlet + systemd.
func (e *env) noop(ctx context.Context, ns []int) error {
	fmt.Fprintf(e.out, "## 1. No-op pass over N running, healthy apps\n\n")
	fmt.Fprintf(e.out, "min / median / max in ms; %d repetitions for skerry and the raw list call, %d for podman-compose. skerry's pass is a periodic pass of the supervisor (`Trigger`), its duration as reported; runtime calls are those of the pass (the scheduled checks and exit waits running beside it are not counted). Quadlet + systemd has no pass: systemd acts on events only.\n\n", *reps, *slow)
	fmt.Fprintf(e.out, "| N | skerry no-op pass | runtime calls per pass | one raw label-filtered REST list | pass / raw list | `podman-compose up -d`, all up | compose / skerry (median) |\n|---|---|---|---|---|---|---|\n")
	var last struct {
		n                    int
		up, down, qup, qdown time.Duration
	}
	for _, n := range ns {
		names := appNames(fmt.Sprintf("noop%d", n), n)
		nd, up, err := e.startNode(ctx, names)
		if err != nil {
			return err
		}
		if _, err := nd.pass(ctx, true); err != nil { // warm
			nd.close(ctx)
			return err
		}
		var ds []time.Duration
		before := e.rt.calls.Load()
		for range *reps {
			r, err := nd.pass(ctx, true)
			if err == nil && (r.Acted() != 0 || r.Err != nil) {
				err = fmt.Errorf("no-op pass acted: %v", r)
			}
			if err != nil {
				nd.close(ctx)
				return err
			}
			ds = append(ds, r.Duration)
		}
		calls := float64(e.rt.calls.Load()-before) / float64(*reps)
		pass := summarize(ds)
		raw, err := timeIt(*reps, func() error { return e.rawList(ctx) })
		down := nd.close(ctx)
		if err != nil {
			return err
		}
		last.n, last.up, last.down = n, up, down

		project := fmt.Sprintf("cmp%d", n)
		file, err := composeFile(project, n)
		if err != nil {
			return err
		}
		if err := composeCmd(file, project, "up", "-d"); err != nil {
			return err
		}
		cmp, err := timeIt(*slow, func() error { return composeCmd(file, project, "up", "-d") })
		composeCmd(file, project, "down", "-t", "1")
		if err != nil {
			return err
		}
		fmt.Fprintf(e.out, "| %d | %s | %.0f | %s | %s | %s | %s |\n", n, pass, calls, raw, ratio(pass.med, raw.med), cmp, ratio(cmp.med, pass.med))
	}
	names := appNames(fmt.Sprintf("qnoop%d", last.n), last.n)
	// A failure of the peer is reported in its cells, not fatal: the rest of the suite runs.
	qup, qdown := "failed", "failed"
	took, err := e.quadletUp(ctx, names)
	if err != nil {
		// One failed start job (systemd never got a unit's READY) leaves no figure: clean up and
		// try once more, and say so.
		first := firstLine(err)
		e.quadletDown(ctx, names)
		time.Sleep(time.Second)
		if took, err = e.quadletUp(ctx, names); err == nil {
			qup, last.qup = ms(took)+" (second attempt; the first failed: "+first+")", took
		} else {
			qup = "failed twice: " + first + "; " + firstLine(err)
		}
	} else {
		qup, last.qup = ms(took), took
	}
	time.Sleep(time.Second)
	if took, err = e.quadletDown(ctx, names); err != nil {
		qdown = "failed: " + firstLine(err)
	} else {
		qdown, last.qdown = ms(took), took
	}
	fmt.Fprintf(e.out, "\nBring-up and removal of %d apps (one run each; ms). skerry: `New` + `Run` until its first pass reported every app running and checked (its first passing check; no guard: MinUptime guards only apps without a check and upgrades); uninstall: `Uninstall` of every app at once (volumes purged). Quadlet + systemd: write the units, `daemon-reload`, start every unit at once until every start job ended (Notify=healthy: the first check passed; no guard); removal: stop every unit at once, delete the files, `daemon-reload`.\n\n", last.n)
	fmt.Fprintf(e.out, "| | skerry | Quadlet + systemd | Quadlet / skerry |\n|---|---|---|---|\n")
	fmt.Fprintf(e.out, "| bring-up of %d | %s | %s | %s |\n", last.n, ms(last.up), qup, ratio(last.qup, last.up))
	fmt.Fprintf(e.out, "| removal of all %d | %s | %s | %s |\n\n", last.n, ms(last.down), qdown, ratio(last.qdown, last.down))
	floor, err := e.batchRemoveFloor(ctx, names)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.out, "The engine's own floor for that removal, measured right after: one `podman rm --force --volumes --time 1` of %d running bench containers (no REST service, no systemd): %s ms.\n\n", last.n, ms(floor))
	return nil
}
