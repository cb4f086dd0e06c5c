//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs && linux

package podman

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// errNotConmon is openConmon's error when the PID is not, or no longer, the container's conmon.
var errNotConmon = errors.New("not the container's conmon")

// pidfd is a conmonHandle: a pidfd (pidfd_open(2), Linux 5.3) in Go's poller. A pidfd becomes
// readable when its process ends, so waiting blocks no thread and polls nothing.
type pidfd struct{ f *os.File }

// openConmon opens a pidfd on the process pid of this process's PID namespace and proves that
// it is a conmon of container id: its command line (read through this process's /proc, at the
// PID the pidfd's fdinfo gives there) has conmon's "-c <id>", and the process was still alive
// after that read, so the PID had not passed to another process.
func openConmon(pid int, id string) (conmonHandle, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("pidfd of %d: %w", pid, err)
	}
	p := &pidfd{f: os.NewFile(uintptr(fd), "pidfd")}
	if err := p.isConmonOf(id); err != nil {
		p.Close()
		return nil, fmt.Errorf("pidfd of %d: %w", pid, err)
	}
	return p, nil
}

// isConmonOf checks that p's process is a live conmon of container id, and that p is in Go's
// poller (so that wait can end on a deadline).
func (p *pidfd) isConmonOf(id string) error {
	if err := p.f.SetReadDeadline(time.Time{}); err != nil {
		return err // not in the poller
	}
	var nr int
	var err error
	if cerr := p.control(func(fd int) { nr, err = procPID(fd) }); cerr != nil {
		return cerr
	}
	if err != nil {
		return err
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(nr) + "/cmdline")
	if err != nil {
		return err
	}
	if !isConmonCmdline(cmdline, id) {
		return errNotConmon
	}
	ended, err := p.ended()
	if err == nil && ended {
		err = errNotConmon // ended: the command line read may be another process's
	}
	return err
}

// isConmonCmdline reports whether cmdline (a /proc/PID/cmdline: NUL-terminated arguments) is
// that of a conmon of container id: podman starts conmon with "-c <id>" as its first "-c".
func isConmonCmdline(cmdline []byte, id string) bool {
	args := strings.Split(string(cmdline), "\x00")
	i := slices.Index(args, "-c")
	return id != "" && i >= 0 && i+1 < len(args) && args[i+1] == id
}

// procPID returns the PID of pidfd fd's process as this process's /proc numbers it, from the
// "Pid:" line of its fdinfo (-1 once the process has been reaped).
func procPID(fd int) (int, error) {
	info, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		return 0, err
	}
	for s := bufio.NewScanner(bytes.NewReader(info)); s.Scan(); {
		if v, ok := strings.CutPrefix(s.Text(), "Pid:"); ok {
			nr, err := strconv.Atoi(strings.TrimSpace(v))
			if err == nil && nr <= 0 {
				err = errNotConmon
			}
			return nr, err
		}
	}
	return 0, errors.New("no Pid in a pidfd's fdinfo")
}

// control runs fn with p's descriptor.
func (p *pidfd) control(fn func(fd int)) error {
	rc, err := p.f.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(func(fd uintptr) { fn(int(fd)) })
}

// ended reports whether p's process has ended, without waiting.
func (p *pidfd) ended() (ended bool, err error) {
	if cerr := p.control(func(fd int) { ended, err = readable(fd) }); cerr != nil {
		return false, cerr
	}
	return ended, err
}

// readable polls fd once, without waiting.
func readable(fd int) (bool, error) {
	for {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
		if err == unix.EINTR {
			continue
		}
		return n > 0, err
	}
}

// wait implements conmonHandle: Go's poller parks the caller until the pidfd is readable; ctx's
// end sets a past read deadline, which wakes it.
func (p *pidfd) wait(ctx context.Context) error {
	rc, err := p.f.SyscallConn()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { p.f.SetReadDeadline(time.Now()) })
	defer stop()
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		var ended bool
		ended, perr = readable(int(fd))
		return ended || perr != nil
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return err
	}
	return perr
}

// Close implements conmonHandle.
func (p *pidfd) Close() error { return p.f.Close() }
