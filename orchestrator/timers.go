package orchestrator

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/skerry-dev/skerry/runtime"
)

// CheckTimers is what the orchestrator needs from a unit manager (quadlet/systemd's Manager has
// it) to remove podman's health-check timers that outlived their containers. Podman runs each
// engine-scheduled exec check from a transient systemd timer named <container ID>-<hex>.timer,
// with a .service of the same name; a container killed while podman restarts it (a daemon
// SIGKILLed in the middle of a restart) can leave its timer behind, firing every interval with
// "no such container". With Options.ScheduleExecChecks there are no such timers.
type CheckTimers interface {
	// ListUnits returns the names of the loaded units matching one of the glob patterns.
	ListUnits(ctx context.Context, patterns []string) ([]string, error)
	// Stop stops a unit; a transient unit is gone once stopped. An unknown unit is not an error.
	Stop(ctx context.Context, unit string) error
}

// TimerSweepInterval is how often passes look for stray check timers (Options.CheckTimers): at
// the first pass, then at most this often.
const TimerSweepInterval = 10 * time.Minute

// checkTimerPattern matches podman's transient check timers: a 64-digit container ID, a dash, a
// random suffix.
var checkTimerPattern = strings.Repeat("?", 64) + "-*.timer"

// sweepTimers stops the check timers (and their services) whose container is gone or no longer
// runs, when a sweep is due. running holds the IDs of the managed containers the pass saw
// running; any other timer's container is inspected (a companion's, another tool's). It returns
// the timers it removed; failures are logged, the next sweep tries again.
func (o *Orchestrator) sweepTimers(ctx context.Context, observed []runtime.Observation) []string {
	if o.opts.CheckTimers == nil {
		return nil
	}
	o.mu.Lock()
	now := time.Now()
	due := !now.Before(o.nextSweep)
	if due {
		o.nextSweep = now.Add(TimerSweepInterval)
	}
	o.mu.Unlock()
	if !due {
		return nil
	}
	units, err := o.opts.CheckTimers.ListUnits(ctx, []string{checkTimerPattern})
	if err != nil {
		o.log.Warn("could not list podman's check timers", "err", err)
		return nil
	}
	running := map[string]bool{}
	for _, obs := range observed {
		if obs.State == runtime.StateRunning {
			running[obs.ID] = true
		}
	}
	var removed []string
	for _, unit := range units {
		id, _, ok := strings.Cut(unit, "-")
		if !ok || len(id) != 64 || strings.Trim(id, "0123456789abcdef") != "" || running[id] {
			continue
		}
		obs, err := o.rt.Inspect(ctx, id)
		switch {
		case errors.Is(err, runtime.ErrNotFound):
		case err != nil:
			o.log.Debug("could not inspect the container of a check timer", "timer", unit, "err", err)
			continue
		case obs.State != runtime.StateExited && obs.State != runtime.StateStopped:
			continue // running, or starting: podman's own timer
		}
		service := strings.TrimSuffix(unit, ".timer") + ".service"
		if err := errors.Join(o.opts.CheckTimers.Stop(ctx, unit), o.opts.CheckTimers.Stop(ctx, service)); err != nil {
			o.log.Warn("could not remove a stray check timer", "timer", unit, "err", err)
			continue
		}
		o.log.Info("removed a check timer whose container is gone", "timer", unit, "container", obs.Name)
		removed = append(removed, unit)
	}
	return removed
}
