//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package fault_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// daemon is a running child daemon, seen from the parent: its output lines, timestamped.
type daemon struct {
	cfg     childConfig
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{} // closed when the process has exited
	exit    error

	mu     sync.Mutex
	lines  []line
	stderr bytes.Buffer
	notify chan struct{} // closed and replaced at every new line
}

type line struct {
	at   time.Time
	text string
}

// lockedWriter appends to the daemon's stderr buffer under its lock.
type lockedWriter struct{ d *daemon }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	if w.d.stderr.Len() < 1<<20 {
		w.d.stderr.Write(p)
	}
	return len(p), nil
}

// startDaemon starts the test binary as the daemon of cfg.
func startDaemon(cfg childConfig) (*daemon, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	d := &daemon{cfg: cfg, done: make(chan struct{}), notify: make(chan struct{})}
	d.cmd = exec.Command(exe, "-test.run=^$")
	d.cmd.Env = cfg.environ()
	d.cmd.Stderr = lockedWriter{d}
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	d.started = time.Now()
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			d.mu.Lock()
			d.lines = append(d.lines, line{time.Now(), sc.Text()})
			close(d.notify)
			d.notify = make(chan struct{})
			d.mu.Unlock()
		}
		d.exit = d.cmd.Wait()
		close(d.done)
	}()
	return d, nil
}

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// waitLine waits until a line printed at or after since satisfies ok, the daemon exits, or
// within passes. It returns the line and whether one was found.
func (d *daemon) waitLine(since time.Time, within time.Duration, ok func(string) bool) (string, bool) {
	deadline := time.After(within)
	seen := 0
	for {
		ended := d.exited() // then every line is in before this scan
		d.mu.Lock()
		for ; seen < len(d.lines); seen++ {
			if l := d.lines[seen]; !l.at.Before(since) && ok(l.text) {
				d.mu.Unlock()
				return l.text, true
			}
		}
		notify := d.notify
		d.mu.Unlock()
		if ended {
			return "", false
		}
		select {
		case <-notify:
		case <-d.done:
		case <-deadline:
			return "", false
		}
	}
}

// isConverged matches the line of a periodic pass that converged.
func isConverged(s string) bool { return convergedRE.MatchString(s) }

var convergedRE = regexp.MustCompile(`^pass [0-9]+ converged=true:`)

// kill SIGKILLs the daemon and waits for it to be gone.
func (d *daemon) kill() {
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

// term sends SIGTERM and waits up to bound for the exit; it SIGKILLs a daemon that overstays.
// It returns how long the exit took and whether it came within bound.
func (d *daemon) term(bound time.Duration) (time.Duration, bool) {
	start := time.Now()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return time.Since(start), true
	case <-time.After(bound):
		d.kill()
		return time.Since(start), false
	}
}

// linesSince returns the lines printed at or after since.
func (d *daemon) linesSince(since time.Time) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, l := range d.lines {
		if !l.at.Before(since) {
			out = append(out, l.text)
		}
	}
	return out
}

// tail is the daemon's last n output lines and the end of its stderr, for a failure message.
func (d *daemon) tail(n int) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var b strings.Builder
	from := max(0, len(d.lines)-n)
	for _, l := range d.lines[from:] {
		fmt.Fprintf(&b, "  +%v %s\n", l.at.Sub(d.started).Round(time.Millisecond), l.text)
	}
	if e := d.stderr.String(); e != "" {
		lines := strings.Split(strings.TrimSpace(e), "\n")
		b.WriteString("  stderr:\n")
		for _, l := range lines[max(0, len(lines)-n):] {
			b.WriteString("    " + l + "\n")
		}
	}
	return b.String()
}
