package fake_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

const img = "localhost/busybox:latest"

func spec(name string) runtime.ContainerSpec {
	return runtime.ContainerSpec{Name: name, Image: img, Labels: map[string]string{runtime.LabelManaged: "true"},
		HealthCheck: &runtime.HealthCheck{Command: []string{"true"}, Interval: time.Second},
		Mounts:      []runtime.Mount{{Source: name + "-data", Target: "/data"}}}
}

// A check of interval 0 is recorded only when it runs, as podman does without a timer; a
// check that cannot run is an error.
func TestUnscheduledCheckRecordsOnlyWhenRun(t *testing.T) {
	ctx := context.Background()
	r := fake.New()
	r.AddImage(img)
	s := spec("a")
	s.HealthCheck.Interval = 0
	if err := r.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RunHealthCheck(ctx, "a"); err == nil {
		t.Fatal("a check of a created container ran")
	}
	r.Start(ctx, "a")
	health := func() runtime.Health {
		o, _ := r.Inspect(ctx, "a")
		return o.Health
	}
	if h := health(); h != runtime.HealthStarting {
		t.Fatalf("before any check: %v", h)
	}
	if h, err := r.RunHealthCheck(ctx, "a"); err != nil || h != runtime.HealthHealthy || health() != runtime.HealthHealthy {
		t.Fatalf("first check: %v %v, recorded %v", h, err, health())
	}
	r.SetHealth("a", runtime.HealthUnhealthy)
	if h := health(); h != runtime.HealthHealthy {
		t.Fatalf("recorded before the check ran: %v", h)
	}
	if h, _ := r.RunHealthCheck(ctx, "a"); h != runtime.HealthUnhealthy || health() != runtime.HealthUnhealthy {
		t.Fatalf("second check: %v, recorded %v", h, health())
	}
	r.Kill(ctx, "a", "KILL")
	if _, err := r.RunHealthCheck(ctx, "a"); err == nil {
		t.Fatal("a check of an exited container ran")
	}
}

func TestLifecycleAndSentinels(t *testing.T) {
	ctx := context.Background()
	r := fake.New()
	if err := r.Create(ctx, spec("a")); !errors.Is(err, runtime.ErrImageNotFound) {
		t.Fatalf("create without image: %v", err)
	}
	r.AddImage(img)
	if err := r.Create(ctx, spec("a")); err != nil {
		t.Fatal(err)
	}
	if err := r.Create(ctx, spec("a")); !errors.Is(err, runtime.ErrAlreadyExists) {
		t.Fatalf("duplicate create: %v", err)
	}
	if _, err := r.Inspect(ctx, "nope"); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("inspect missing: %v", err)
	}
	r.Start(ctx, "a")
	o, _ := r.Inspect(ctx, "a")
	if o.State != runtime.StateRunning || o.Health != runtime.HealthHealthy {
		t.Fatalf("%+v", o)
	}
	if err := r.Remove(ctx, "a", runtime.RemoveOptions{}); err == nil {
		t.Fatal("removed a running container without force")
	}
	r.Remove(ctx, "a", runtime.RemoveOptions{Force: true})
	if vols := r.Volumes(); len(vols) != 1 {
		t.Fatalf("volume removed without Volumes: %v", vols)
	}
	list, _ := r.List(ctx, runtime.ManagedOnly())
	if len(list) != 0 {
		t.Fatalf("list: %v", list)
	}
	if r.Calls(fake.OpCreate) != 3 || r.Calls(fake.OpList) != 1 {
		t.Fatalf("call counts create=%d list=%d", r.Calls(fake.OpCreate), r.Calls(fake.OpList))
	}
}

func TestFaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		r := fake.New()
		r.AddImage(img)
		boom := errors.New("boom")
		r.FailNth(fake.OpStart, 2, boom)
		r.Create(ctx, spec("a"))
		if err := r.Start(ctx, "a"); err != nil {
			t.Fatalf("first start: %v", err)
		}
		if err := r.Start(ctx, "a"); !errors.Is(err, boom) {
			t.Fatalf("second start: %v, want injected", err)
		}
		r.SetBehaviour("a", fake.Behaviour{DieAfter: time.Second, ExitCode: 3})
		r.Stop(ctx, "a", 0)
		r.Start(ctx, "a")
		time.Sleep(999 * time.Millisecond)
		if _, o, _ := r.Container("a"); o.State != runtime.StateRunning {
			t.Fatalf("died early: %v", o.State)
		}
		time.Sleep(time.Millisecond)
		if _, o, _ := r.Container("a"); o.State != runtime.StateExited || o.ExitCode != 3 {
			t.Fatalf("after DieAfter: %v %d", o.State, o.ExitCode)
		}
		r.SetBehaviour("a", fake.Behaviour{StuckCreated: true})
		r.Start(ctx, "a")
		if _, o, _ := r.Container("a"); o.State != runtime.StateCreated {
			t.Fatalf("stuck: %v", o.State)
		}
		r.SetBehaviour("a", fake.Behaviour{Unhealthy: true})
		r.Start(ctx, "a")
		if h, _ := r.RunHealthCheck(ctx, "a"); h != runtime.HealthUnhealthy {
			t.Fatalf("unhealthy: %v", h)
		}
		r.Hang(fake.OpInspect, true)
		tctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if _, err := r.Inspect(tctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("hung inspect: %v", err)
		}
		r.ClearFaults()
		if _, err := r.Inspect(ctx, "a"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	r := fake.New()
	r.AddImage(img)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			name := string(rune('a' + i))
			r.Create(ctx, spec(name))
			r.Start(ctx, name)
			r.List(ctx, runtime.ManagedOnly())
			r.KillExternally(name)
		})
	}
	wg.Wait()
	if len(r.Names()) != 20 || r.Calls(fake.OpList) != 20 {
		t.Fatalf("names %v lists %d", r.Names(), r.Calls(fake.OpList))
	}
}

func TestWaitExit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		r := fake.New()
		r.AddImage(img)
		if err := r.WaitExit(ctx, "nope"); !errors.Is(err, runtime.ErrNotFound) {
			t.Fatalf("wait for a missing container: %v", err)
		}
		r.Create(ctx, spec("a"))
		if err := r.WaitExit(ctx, "a"); err != nil {
			t.Fatalf("wait for a created container: %v, want nil at once", err)
		}
		// waitIn starts a wait and returns the time it took, once it returned.
		waitIn := func(name string) <-chan time.Duration {
			done := make(chan time.Duration, 1)
			start := time.Now()
			go func() {
				if err := r.WaitExit(ctx, name); err != nil {
					t.Errorf("wait: %v", err)
				}
				done <- time.Since(start)
			}()
			synctest.Wait()
			return done
		}
		for _, end := range []struct {
			what string
			do   func()
		}{
			{"kill", func() { r.KillExternally("a") }},
			{"stop", func() { r.Stop(ctx, "a", time.Second) }},
			{"removal", func() { r.RemoveExternally("a") }},
		} {
			if _, err := r.Inspect(ctx, "a"); errors.Is(err, runtime.ErrNotFound) {
				r.Create(ctx, spec("a"))
			}
			r.Start(ctx, "a")
			done := waitIn("a")
			r.PauseExternally("a") // a paused container still runs
			synctest.Wait()
			r.SetState("a", runtime.StateRunning)
			synctest.Wait()
			select {
			case <-done:
				t.Fatalf("before the %s: wait returned", end.what)
			default:
			}
			end.do()
			synctest.Wait()
			select {
			case <-done:
			default:
				t.Fatalf("wait did not return on %s", end.what)
			}
		}
		// A scheduled death ends the wait at its time, not at the next call.
		r.SetBehaviour("b", fake.Behaviour{DieAfter: 5 * time.Second})
		r.Create(ctx, spec("b"))
		r.Start(ctx, "b")
		if took := <-waitIn("b"); took != 5*time.Second {
			t.Fatalf("wait for a death due in 5 s returned after %v", took)
		}
	})
}

// Rename keeps the container (ID, state, labels, volumes) under its new name, as podman does,
// and refuses a taken or missing name with the runtime's sentinels.
func TestRename(t *testing.T) {
	ctx := context.Background()
	r := fake.New()
	r.AddImage(img)
	for _, n := range []string{"a", "b"} {
		if err := r.Create(ctx, spec(n)); err != nil {
			t.Fatal(err)
		}
	}
	r.Start(ctx, "a")
	before, _ := r.Inspect(ctx, "a")
	if err := r.Rename(ctx, "a", "a.PREV"); err != nil {
		t.Fatal(err)
	}
	after, err := r.Inspect(ctx, "a.PREV")
	if err != nil || after.ID != before.ID || after.State != runtime.StateRunning || after.Name != "a.PREV" || after.Labels[runtime.LabelManaged] != "true" {
		t.Fatalf("renamed: %+v %v", after, err)
	}
	if _, err := r.Inspect(ctx, "a"); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("old name: %v", err)
	}
	if err := r.Rename(ctx, "a.PREV", "b"); !errors.Is(err, runtime.ErrAlreadyExists) {
		t.Fatalf("rename onto b: %v", err)
	}
	if err := r.Rename(ctx, "gone", "c"); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("rename of a missing container: %v", err)
	}
	if n := r.Calls(fake.OpRename); n != 3 {
		t.Fatalf("%d renames counted", n)
	}
}
