//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"

	"github.com/skerry-dev/skerry/runtime"
)

// TestWaitExit checks runtime.ExitWaiter's contract along both of WaitExit's paths: the pidfd
// of the container's conmon (what this environment, like a node, allows) and podman's wait
// call (forced through the seam, as on a host without pidfd_open or a podman whose processes
// are not visible).
func TestWaitExit(t *testing.T) {
	for _, path := range []string{"pidfd", "wait call"} {
		t.Run(path, func(t *testing.T) {
			r := connect(t)
			if path == "wait call" {
				r.exits.open = func(int, string) (conmonHandle, error) { return nil, errors.ErrUnsupported }
			}
			testWaitExit(t, r, path == "pidfd")
		})
	}
}

func testWaitExit(t *testing.T, r *Runtime, byPidfd bool) {
	ctx := context.Background()
	name := uniq("wait")
	cleanup(t, r, name)
	if err := r.WaitExit(ctx, name); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("wait for a missing container: %v, want ErrNotFound", err)
	}
	spec := runtime.ContainerSpec{Name: name, Image: testImage, Command: []string{"httpd", "-f", "-p", "8080"},
		StopTimeout: time.Second} // busybox httpd as PID 1 ignores SIGTERM
	if err := r.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := r.WaitExit(ctx, name); err != nil {
		t.Fatalf("wait for a created container: %v, want nil at once", err)
	}
	waits := int64(0) // the waits a pidfd answered so far
	start := func(t *testing.T) {
		t.Helper()
		if o, err := r.Inspect(ctx, name); err != nil || o.State != runtime.StateRunning {
			if err := r.Start(ctx, name); err != nil {
				t.Fatal(err)
			}
		}
	}
	// begin starts a wait and returns once it waits (on its pidfd, or after a while for the
	// wait call, whose arrival at the server cannot be seen).
	begin := func(t *testing.T, ctx context.Context) <-chan error {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- r.WaitExit(ctx, name) }()
		if !byPidfd {
			time.Sleep(300 * time.Millisecond)
			return done
		}
		waits++
		for deadline := time.Now().Add(10 * time.Second); r.exits.byPidfd.Load() < waits; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no wait on a pidfd began (%d, want %d)", r.exits.byPidfd.Load(), waits)
			}
		}
		return done
	}
	stillWaiting := func(t *testing.T, done <-chan error, what string) {
		t.Helper()
		select {
		case err := <-done:
			t.Fatalf("wait returned %v %s", err, what)
		case <-time.After(time.Second):
		}
	}
	returns := func(t *testing.T, done <-chan error, after string) {
		t.Helper()
		began := time.Now()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("wait across %s: %v", after, err)
			}
			t.Logf("wait returned %v after %s", time.Since(began), after)
		case <-time.After(30 * time.Second):
			t.Fatalf("wait did not return after %s", after)
		}
	}
	notRunning := func(t *testing.T) {
		t.Helper()
		if o, err := r.Inspect(ctx, name); err != nil || o.State == runtime.StateRunning {
			t.Fatalf("wait returned while the container runs: %v %v", o.State, err)
		}
	}

	t.Run("context", func(t *testing.T) {
		start(t)
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		err := <-begin(t, short)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("wait for a running container: %v, want it to last until its context ended", err)
		}
		cctx, cancel := context.WithCancel(ctx)
		done := begin(t, cctx)
		cancel()
		canceled := time.Now()
		if err := <-done; !errors.Is(err, context.Canceled) || time.Since(canceled) > time.Second {
			t.Fatalf("wait canceled: %v after %v, want context.Canceled at once", err, time.Since(canceled))
		}
	})
	t.Run("kill", func(t *testing.T) {
		start(t)
		done := begin(t, ctx)
		if err := r.Kill(ctx, name, "SIGKILL"); err != nil {
			t.Fatal(err)
		}
		returns(t, done, "a kill")
		notRunning(t)
	})
	t.Run("stop", func(t *testing.T) {
		start(t)
		done := begin(t, ctx)
		if err := r.Stop(ctx, name, time.Second); err != nil {
			t.Fatal(err)
		}
		returns(t, done, "a stop")
		notRunning(t)
	})
	t.Run("pause", func(t *testing.T) {
		start(t)
		done := begin(t, ctx)
		if err := containers.Pause(r.with(ctx), name, nil); err != nil {
			t.Fatal(err)
		}
		stillWaiting(t, done, "while the container was paused")
		if err := containers.Unpause(r.with(ctx), name, nil); err != nil {
			t.Fatal(err)
		}
		stillWaiting(t, done, "when the container was unpaused")
		if err := r.Kill(ctx, name, "SIGKILL"); err != nil {
			t.Fatal(err)
		}
		returns(t, done, "a kill after a pause")
	})
	t.Run("restart", func(t *testing.T) {
		start(t)
		done := begin(t, ctx)
		if err := containers.Restart(r.with(ctx), name, nil); err != nil {
			t.Fatal(err)
		}
		returns(t, done, "a restart") // the run the wait began in has ended, another began
		if o, err := r.Inspect(ctx, name); err != nil || o.State != runtime.StateRunning {
			t.Fatalf("after the restart: %v %v, want running", o.State, err)
		}
	})
	t.Run("removed", func(t *testing.T) {
		start(t)
		done := begin(t, ctx)
		if err := r.Remove(ctx, name, runtime.RemoveOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
		returns(t, done, "a forced remove")
	})
	t.Run("exit", func(t *testing.T) {
		sleeper := uniq("wait-exit")
		cleanup(t, r, sleeper)
		if err := r.Create(ctx, runtime.ContainerSpec{Name: sleeper, Image: testImage, Command: []string{"sleep", "3"}}); err != nil {
			t.Fatal(err)
		}
		if err := r.Start(ctx, sleeper); err != nil {
			t.Fatal(err)
		}
		name = sleeper // begin and notRunning look at name
		done := begin(t, ctx)
		returns(t, done, "its process's own end")
		notRunning(t)
	})
	if !byPidfd && r.exits.byPidfd.Load() != 0 {
		t.Fatalf("%d waits on a pidfd, want podman's wait call only", r.exits.byPidfd.Load())
	}
}

// openConmon proves that its pidfd is the container's conmon: another process, or another
// container's ID, is refused (WaitExit then uses podman's wait call).
func TestOpenConmonRefusesOtherProcesses(t *testing.T) {
	r := connect(t)
	ctx := context.Background()
	name := uniq("conmon")
	cleanup(t, r, name)
	if err := r.Create(ctx, runtime.ContainerSpec{Name: name, Image: testImage, Command: []string{"sleep", "600"},
		StopTimeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	d, err := containers.Inspect(r.with(ctx), name, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := openConmon(d.State.ConmonPid, d.ID)
	if err != nil {
		t.Fatalf("pidfd of the container's conmon: %v", err)
	}
	h.Close()
	if _, err := openConmon(d.State.ConmonPid, "0123"+d.ID[4:]); !errors.Is(err, errNotConmon) {
		t.Fatalf("conmon under another container's ID: %v, want errNotConmon", err)
	}
	if _, err := openConmon(os.Getpid(), d.ID); !errors.Is(err, errNotConmon) {
		t.Fatalf("this test's own process: %v, want errNotConmon", err)
	}
	if _, err := openConmon(d.State.Pid, d.ID); !errors.Is(err, errNotConmon) {
		t.Fatalf("the container's own process: %v, want errNotConmon", err)
	}
}
