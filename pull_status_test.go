package skerry_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skerry-dev/skerry"
	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
	rfake "github.com/skerry-dev/skerry/runtime/fake"
)

// The pull of a missing image shows in the status stream: when it starts, at most every
// PullStatusEvery while the engine reports layers, and its end; Status() makes no runtime call.
func TestPullProgressIsSubscribed(t *testing.T) {
	for _, how := range []string{"first pass", "install"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const pulled = "localhost/lnd:pulled"
				a := skerry.App{App: orchestrator.App{Name: "lnd", Container: runtime.ContainerSpec{Image: pulled, Command: []string{"lnd"}},
					Health: health.Check{Exec: []string{"check"}}}}
				var n *node
				if how == "first pass" {
					n = newNode(t, skerry.Options{}, a)
				} else {
					n = newNode(t, skerry.Options{})
				}
				n.rt.MakePullable(pulled)
				ctx, cancel := context.WithCancel(context.Background())
				var pulls []skerry.PullStatus
				var ended bool
				sub := n.sup.Subscribe(ctx)
				done := make(chan struct{})
				go func() {
					defer close(done)
					for st := range sub {
						app, _ := st.App("lnd")
						if app.Pull != nil {
							pulls = append(pulls, *app.Pull)
						} else if len(pulls) > 0 {
							ended = true
						}
					}
				}()
				start := time.Now()
				if how == "first pass" {
					stop := n.start(t)
					time.Sleep(10 * time.Second)
					synctest.Wait()
					stop()
				} else if _, err := n.sup.Install(ctx, a); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				calls := n.rt.TotalCalls()
				if st, _ := n.sup.Status().App("lnd"); st.State != runtime.StateRunning || st.Pull != nil || n.rt.TotalCalls() != calls {
					t.Fatalf("after the pull: %+v", st)
				}
				cancel()
				<-done
				// 5 updates (start, 3 layers 100 ms apart, the config): the start, the third
				// layer (300 ms after the start), then the end.
				want := []skerry.PullStatus{
					{Image: pulled, Bytes: -1, Started: start, Updated: start},
					{Image: pulled, Layers: rfake.PullLayers, Bytes: -1, Started: start, Updated: start.Add(3 * rfake.PullLayerTime)},
				}
				if diff := cmp.Diff(want, pulls); diff != "" || !ended {
					t.Fatalf("pull statuses (-want +got), ended=%v:\n%s", ended, diff)
				}
			})
		})
	}
}

// The pull of a companion's missing image shows in the status stream as an app's does, on the
// companion's status: at its start, at most every PullStatusEvery, and its end.
func TestCompanionPullProgressIsSubscribed(t *testing.T) {
	for _, how := range []string{"first pass", "install"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const pulled = "localhost/btc-ui:pulled"
				a := demoApps()[0]
				a.Companions[0].Image = pulled
				var n *node
				if how == "first pass" {
					n = newNode(t, skerry.Options{}, a)
				} else {
					n = newNode(t, skerry.Options{})
				}
				n.rt.MakePullable(pulled)
				ctx, cancel := context.WithCancel(context.Background())
				var pulls []skerry.PullStatus
				var ended bool
				sub := n.sup.Subscribe(ctx)
				done := make(chan struct{})
				go func() {
					defer close(done)
					for st := range sub {
						app, _ := st.App(a.Name)
						if len(app.Companions) != 1 || app.Pull != nil {
							continue
						}
						if c := app.Companions[0]; c.Pull != nil {
							pulls = append(pulls, *c.Pull)
						} else if len(pulls) > 0 {
							ended = true
						}
					}
				}()
				if how == "first pass" {
					stop := n.start(t)
					time.Sleep(10 * time.Second)
					synctest.Wait()
					stop()
				} else if _, err := n.sup.Install(ctx, a); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				st, _ := n.sup.Status().App(a.Name)
				if len(st.Companions) != 1 || st.Companions[0].Pull != nil || st.Companions[0].Status != companion.StatusActive ||
					st.Companions[0].Image != pulled {
					t.Fatalf("after the pull: %+v", st.Companions)
				}
				cancel()
				<-done
				if len(pulls) == 0 {
					t.Fatal("no companion pull status")
				}
				start := pulls[0].Started // after the app came up
				want := []skerry.PullStatus{
					{Image: pulled, Bytes: -1, Started: start, Updated: start},
					{Image: pulled, Layers: rfake.PullLayers, Bytes: -1, Started: start, Updated: start.Add(3 * rfake.PullLayerTime)},
				}
				if diff := cmp.Diff(want, pulls); diff != "" || !ended {
					t.Fatalf("companion pull statuses (-want +got), ended=%v:\n%s", ended, diff)
				}
			})
		})
	}
}
