package orchestrator_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime/fake"
)

// TestReadinessGuardsOnlyWhatItGuards: a fresh start of an app with a check is ready at its
// first passing check; an app without a check waits for MinUptime, and so does an upgrade,
// whose commit removes the previous release.
func TestReadinessGuardsOnlyWhatItGuards(t *testing.T) {
	for _, tc := range []struct {
		name    string
		checked bool
		upgrade bool
		want    time.Duration // fake time the Install took
	}{
		{"install, with a check", true, false, 0},
		{"install, no check", false, false, orchestrator.DefaultMinUptime},
		{"upgrade, with a check", true, true, orchestrator.DefaultMinUptime},
		{"upgrade, no check", false, true, orchestrator.DefaultMinUptime},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt, o := setup(orchestrator.Options{})
				ctx := context.Background()
				app := newApp("lnd")
				if !tc.checked {
					app.Health = health.Check{}
				}
				if tc.upgrade {
					if _, err := o.Install(ctx, app); err != nil {
						t.Fatal(err)
					}
					rt.AddImage("localhost/lnd:2")
					app.Container.Image = "localhost/lnd:2"
				}
				start := time.Now()
				rep, err := o.Install(ctx, app)
				if err != nil {
					t.Fatal(err)
				}
				if took := time.Since(start); took != tc.want {
					t.Fatalf("%s took %v of fake time, want %v (%v)", tc.name, took, tc.want, rep)
				}
				if got := rt.Names(); !cmp.Equal(got, []string{"lnd"}) {
					t.Fatalf("containers %v", got)
				}
			})
		})
	}
}

// TestCrashLoopAfterAPassingCheck: an app whose check passes at every start and which dies 1 s
// later, again and again, meets the crash-loop backoff as it did when MinUptime guarded every
// start: the first retry at once, then 10 s, 20 s, 40 s, ... after the previous one. The check
// passing is no reset.
func TestCrashLoopAfterAPassingCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		events, _ := rt.Events(ctx)
		var starts []time.Duration
		begin := time.Now()
		recorded := make(chan struct{})
		go func() {
			defer close(recorded)
			for e := range events {
				if e.Kind == "start" {
					starts = append(starts, time.Since(begin))
				}
			}
		}()
		watching := make(chan struct{})
		go func() { o.WatchEvents(ctx, rt, nil); close(watching) }()
		rt.SetBehaviour("lnd", fake.Behaviour{DieAfter: time.Second, ExitCode: 3})
		rep, err := o.Install(ctx, newApp("lnd"))
		if err != nil || rep.Action != orchestrator.ActionCreate {
			t.Fatalf("install: %v %v", rep, err)
		}
		time.Sleep(200*time.Second - time.Since(begin))
		cancel()
		<-watching
		<-recorded
		// The death 1 s after the create is retried at once (retry 1), each later death waits
		// for Delay(retries) after the previous retry.
		want := []time.Duration{0, time.Second}
		for retries := 1; want[len(want)-1]+orchestrator.Delay(retries) < 200*time.Second; retries++ {
			want = append(want, want[len(want)-1]+orchestrator.Delay(retries))
		}
		if diff := cmp.Diff(want, starts); diff != "" {
			t.Fatalf("starts (-want +got):\n%s", diff)
		}
	})
}

// TestInstallOfACheckedAppThatDiesLater: Install of an app with a check returns once its check
// passed; its death a moment later is a crash the next pass restarts, under the backoff.
func TestInstallOfACheckedAppThatDiesLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		rt.SetBehaviour("lnd", fake.Behaviour{DieAfter: 1500 * time.Millisecond, ExitCode: 2})
		if _, err := o.Install(ctx, newApp("lnd")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		rep := o.ReconcileAll(ctx)
		if a := rep.Apps[0]; a.Action != orchestrator.ActionStart || a.Err != nil || a.Reason != "exited (exit code 2)" {
			t.Fatalf("pass after the death: %v", a)
		}
		time.Sleep(2 * time.Second)
		rep = o.ReconcileAll(ctx)
		if a := rep.Apps[0]; a.Action != orchestrator.ActionWait || a.NotBefore.IsZero() || errors.Is(a.Err, orchestrator.ErrNotReady) {
			t.Fatalf("pass after the second death: %v", a)
		}
	})
}

// TestEveryFailedCheckCounts: a fresh start's first check runs before the wait inspects the
// container; when it fails, it counts towards FailureThreshold like every later one.
func TestEveryFailedCheckCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		rt.SetBehaviour("lnd", fake.Behaviour{Unhealthy: true})
		if _, err := o.Install(context.Background(), newApp("lnd")); !errors.Is(err, orchestrator.ErrNotReady) {
			t.Fatalf("err = %v, want ErrNotReady", err)
		}
		if n, want := rt.Calls(fake.OpRunHealthCheck), health.DefaultFailureThreshold; n != want {
			t.Fatalf("%d checks before the verdict, want FailureThreshold (%d)", n, want)
		}
	})
}
