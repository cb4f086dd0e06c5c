package fake

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/skerry-dev/skerry/runtime"
)

// --- call accounting and faults ---

// Calls returns how many times op was called.
func (r *Runtime) Calls(op Op) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[op]
}

// TotalCalls returns the number of calls of every operation together.
func (r *Runtime) TotalCalls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		n += c
	}
	return n
}

// ResetCalls sets every counter to zero. Pending FailNth faults keep counting from the new zero.
func (r *Runtime) ResetCalls() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for op, fs := range r.failures {
		for i := range fs {
			fs[i].nth -= r.calls[op]
		}
	}
	clear(r.calls)
}

// FailNth makes the nth call of op from now (1 = the next one) return err.
func (r *Runtime) FailNth(op Op, n int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures[op] = append(r.failures[op], failure{nth: r.calls[op] + n, err: err})
}

// Hang makes every call of op block until its context ends, then return the context's error:
// a runtime that times out. Hang(op, false) lifts it.
func (r *Runtime) Hang(op Op, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hang[op] = on
}

// SetBehaviour sets how the container called name behaves from its next start on.
func (r *Runtime) SetBehaviour(name string, b Behaviour) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b == (Behaviour{}) {
		delete(r.behaviour, name)
	} else {
		r.behaviour[name] = b
	}
}

// SetImageBehaviour sets how containers of image ref behave from their next start on, unless a
// behaviour set by name overrides it: a broken release of an image. ref may also be an image ID
// (as ImageID returns it, before it wins over a tag's): the broken image a tag moved to.
func (r *Runtime) SetImageBehaviour(ref string, b Behaviour) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b == (Behaviour{}) {
		delete(r.imageBehav, ref)
	} else {
		r.imageBehav[ref] = b
	}
}

// behaviourOf returns the behaviour of c. Called with r.mu held.
func (r *Runtime) behaviourOf(c *container) Behaviour {
	if b, ok := r.behaviour[c.spec.Name]; ok {
		return b
	}
	if b, ok := r.imageBehav[c.imageID]; ok {
		return b
	}
	return r.imageBehav[c.spec.Image]
}

// ClearFaults lifts every fault: pending failures, hangs and behaviours. Running containers
// scheduled to die keep their schedule (the process is already doomed); unhealthy ones stay
// unhealthy until restarted.
func (r *Runtime) ClearFaults() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.failures)
	clear(r.hang)
	clear(r.behaviour)
	clear(r.imageBehav)
}

// enter counts a call of op and applies faults. It returns with r.mu held when err is nil.
func (r *Runtime) enter(ctx context.Context, op Op) error {
	r.mu.Lock()
	r.calls[op]++
	n := r.calls[op]
	if fs := r.failures[op]; len(fs) > 0 {
		for i, f := range fs {
			if f.nth == n {
				r.failures[op] = slices.Delete(fs, i, i+1)
				r.mu.Unlock()
				return fmt.Errorf("fake %s: injected: %w", op, f.err)
			}
		}
	}
	if r.hang[op] {
		r.mu.Unlock()
		<-ctx.Done()
		return fmt.Errorf("fake %s: %w", op, ctx.Err())
	}
	if err := ctx.Err(); err != nil {
		r.mu.Unlock()
		return fmt.Errorf("fake %s: %w", op, err)
	}
	r.advance(time.Now())
	return nil
}

// advance applies scheduled deaths up to now. Called with r.mu held.
func (r *Runtime) advance(now time.Time) {
	for _, c := range r.containers {
		if c.state == runtime.StateRunning && !c.dieAt.IsZero() && !now.Before(c.dieAt) {
			c.state = runtime.StateExited
			c.exitCode = r.behaviourOf(c).ExitCode
			if c.exitCode == 0 {
				c.exitCode = 1
			}
			c.finished = c.dieAt
			c.dieAt = time.Time{}
			c.logs = append(c.logs, fmt.Sprintf("fake: process exited with code %d", c.exitCode))
			r.emit(c, "died")
		}
	}
}
