package skerry_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/skerry-dev/skerry"
	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/hooks"
	"github.com/skerry-dev/skerry/orchestrator"
	qfake "github.com/skerry-dev/skerry/quadlet/fake"
	"github.com/skerry-dev/skerry/runtime"
	rfake "github.com/skerry-dev/skerry/runtime/fake"
)

// rootless is the fake engine on a rootless host whose unprivileged ports start at 1024; it
// counts the host checks.
type rootless struct {
	*rfake.Runtime
	checks atomic.Int32
}

func (r *rootless) CheckHost(_ context.Context, spec runtime.ContainerSpec) error {
	r.checks.Add(1)
	return runtime.CheckPortStart(spec, 1024)
}

// New makes no runtime call, not even the host check; Install, which has a ctx, makes it.
func TestNewMakesNoHostCheck(t *testing.T) {
	rt := &rootless{Runtime: rfake.New()}
	app := demoApps()[1]
	app.DependsOn = nil
	app.Container.Ports = []runtime.Port{{HostPort: 80, ContainerPort: 8080}}
	sup, err := skerry.New(rt, nil, skerry.Options{Logger: quiet}, app)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if n := rt.checks.Load() + int32(rt.TotalCalls()); n != 0 {
		t.Fatalf("New made %d runtime calls", n)
	}
	if _, err := sup.Install(context.Background(), app); !errors.Is(err, runtime.ErrInvalidSpec) || rt.checks.Load() != 1 {
		t.Fatalf("Install = %v after %d host checks, want ErrInvalidSpec after 1", err, rt.checks.Load())
	}
}

// A refused Install that raced an accepted one of the same app leaves the accepted app's
// companions registered, not those of the app before both.
func TestConcurrentInstallsOfOneApp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNode(t, skerry.Options{}, demoApps()...)
		release := make(chan struct{})
		accepted := demoApps()[0]
		accepted.Companions = []companion.Spec{{Name: "bitcoind-ui2", Image: uiImage}}
		accepted.Hooks = []hooks.Hook{hooks.Func(func(context.Context) (bool, error) {
			<-release
			return false, nil
		})}
		refused := demoApps()[0]
		refused.Companions = []companion.Spec{{Name: "bitcoind-ui3", Image: uiImage}}
		refused.DependsOn = []orchestrator.Dependency{{App: "mempool"}}

		ctx := context.Background()
		acceptedErr, refusedErr := make(chan error, 1), make(chan error, 1)
		go func() { _, err := n.sup.Install(ctx, accepted); acceptedErr <- err }()
		synctest.Wait() // in the hook
		go func() { _, err := n.sup.Install(ctx, refused); refusedErr <- err }()
		synctest.Wait()
		select {
		case err := <-refusedErr:
			t.Fatalf("the second Install returned (%v) while the first held the app", err)
		default:
		}
		close(release)
		// Each returns once it is done: the refused one may return before the accepted one
		// has delivered its report.
		if got := []error{<-acceptedErr, <-refusedErr}; got[0] != nil || !errors.Is(got[1], runtime.ErrInvalidSpec) {
			t.Fatalf("Installs = %v, want nil for the first, ErrInvalidSpec for the second", got)
		}
		comps := slices.Sorted(maps.Keys(n.sup.Companions().CompanionSecrets("bitcoind")))
		if !slices.Equal(comps, []string{"bitcoind-ui2"}) {
			t.Fatalf("registered companions %v, want the accepted app's [bitcoind-ui2]", comps)
		}
	})
}

// An Uninstall of an invalid name changes nothing: no report, no status change.
func TestInvalidUninstallChangesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNode(t, skerry.Options{}, demoApps()...)
		before := n.sup.Status()
		if _, err := n.sup.Uninstall(context.Background(), "Not An App!", orchestrator.UninstallOptions{}); !errors.Is(err, runtime.ErrInvalidSpec) {
			t.Fatalf("Uninstall = %v, want ErrInvalidSpec", err)
		}
		if reps := n.taken(); len(reps) != 0 {
			t.Fatalf("an invalid Uninstall delivered %v", reps)
		}
		if after := n.sup.Status(); !after.Updated.Equal(before.Updated) || len(after.Apps) != len(before.Apps) {
			t.Fatalf("status changed: %+v -> %+v", before, after)
		}
	})
}

// OnReport may uninstall the app whose Install it is told of: the app's lock is released
// before the report is delivered.
func TestOnReportMayUninstallTheAppJustInstalled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sup *skerry.Supervisor
		var uninstalled error = errors.New("not called")
		rt := rfake.New()
		rt.AddImage(appImage, uiImage)
		dir := t.TempDir()
		opts := skerry.Options{Logger: quiet, Companions: companion.Options{Dir: dir},
			OnReport: func(r skerry.Report) {
				if r.Source == skerry.SourceInstall {
					_, uninstalled = sup.Uninstall(context.Background(), "bitcoind", orchestrator.UninstallOptions{})
				}
			}}
		var err error
		if sup, err = skerry.New(rt, qfake.New(dir), opts); err != nil {
			t.Fatal(err)
		}
		if _, err := sup.Install(context.Background(), demoApps()[0]); err != nil {
			t.Fatalf("Install: %v", err)
		}
		if uninstalled != nil || len(rt.Names()) != 0 {
			t.Fatalf("Uninstall from OnReport: %v; containers %v", uninstalled, rt.Names())
		}
	})
}
