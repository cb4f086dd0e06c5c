package orchestrator

import "sync"

// startsInFlight counts the actions that start a container (create, start, restart, recreate)
// running anywhere in the orchestrator. A readiness check waits for them to end first (at most
// until its app's MinUptime is reached): on a small node a burst of starts is CPU-bound
// (conmon, the OCI runtime, networking), and exec checks run beside it slow every start of the
// burst (by about 1 s for 20 apps on two cores, see BENCHMARKS.md).
type startsInFlight struct {
	mu   sync.Mutex
	n    int
	none chan struct{} // closed when n drops to 0; nil while n is 0
}

func (f *startsInFlight) begin() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		f.none = make(chan struct{})
	}
	f.n++
}

func (f *startsInFlight) end() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 {
		close(f.none)
		f.none = nil
	}
}

// idle returns a channel that is closed once no start is in flight.
func (f *startsInFlight) idle() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		return closedChan
	}
	return f.none
}

var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()
