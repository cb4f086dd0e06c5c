package orchestrator_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"pgregory.net/rapid"

	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
)

// TestExplicitInstallObservesDependencies: a dependency killed with no pass in between must not
// be taken as ready by an explicit Install of its dependant.
func TestExplicitInstallObservesDependencies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		ctx := context.Background()
		if _, err := o.Install(ctx, newApp("bitcoind")); err != nil {
			t.Fatal(err)
		}
		rt.KillExternally("bitcoind")
		lnd := newApp("lnd")
		lnd.DependsOn = []orchestrator.Dependency{{App: "bitcoind"}}
		rep, err := o.Install(ctx, lnd)
		if !errors.Is(err, orchestrator.ErrWaiting) || !strings.Contains(rep.Reason, "bitcoind (exited)") {
			t.Fatalf("install with a dead dependency: %v %v", rep, err)
		}
		if _, _, exists := rt.Container("lnd"); exists {
			t.Fatal("lnd was created while bitcoind had exited")
		}
	})
}

func TestValidationJudgesEffectiveValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*orchestrator.App)
		want string // "" = valid
	}{
		{"a 50ms interval with the default timeout", func(a *orchestrator.App) { a.Health.Interval = 50 * time.Millisecond }, ""},
		{"ReadyTimeout under the default MinUptime", func(a *orchestrator.App) { a.ReadyTimeout = time.Second },
			"ReadyTimeout: MinUptime 2s (the default) is not shorter than ReadyTimeout 1s"},
		{"MinUptime over the default ReadyTimeout", func(a *orchestrator.App) { a.MinUptime = 3 * time.Minute },
			"MinUptime: MinUptime 3m0s is not shorter than ReadyTimeout 2m0s (the default)"},
		{"no check: StartPeriod is the MinUptime", func(a *orchestrator.App) {
			a.Health = health.Check{StartPeriod: time.Minute}
			a.ReadyTimeout = 30 * time.Second
		}, "MinUptime 1m0s (Health.StartPeriod, the app having no check) is not shorter than ReadyTimeout 30s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp("lnd")
			tc.edit(&a)
			err := a.Validate()
			if (tc.want == "") != (err == nil) || (err != nil && (!strings.Contains(err.Error(), tc.want) || !errors.Is(err, runtime.ErrInvalidSpec))) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestPortClashRefusedBeforeAnySideEffect(t *testing.T) {
	withPorts := func(name string, ports ...runtime.Port) orchestrator.App {
		a := newApp(name)
		a.Container.Ports = ports
		return a
	}
	p := func(ip string, port, count uint16, proto string) runtime.Port {
		return runtime.Port{HostIP: ip, HostPort: port, ContainerPort: 80, Count: count, Protocol: proto}
	}
	for _, tc := range []struct {
		name  string
		a, b  runtime.Port
		clash bool
	}{
		{"same port", p("", 8080, 0, ""), p("", 8080, 0, "tcp"), true},
		{"all IPs and one IP", p("", 8080, 0, ""), p("127.0.0.1", 8080, 0, ""), true},
		{"two IPs", p("127.0.0.1", 8080, 0, ""), p("192.0.2.1", 8080, 0, ""), false},
		{"tcp and udp", p("", 8080, 0, "tcp"), p("", 8080, 0, "udp"), false},
		{"overlapping ranges", p("", 8000, 10, ""), p("", 8009, 2, ""), true},
		{"adjacent ranges", p("", 8000, 10, ""), p("", 8010, 2, ""), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt, o := setup(orchestrator.Options{})
			ctx := context.Background()
			err := o.RegisterAll(ctx, withPorts("btc", tc.a), withPorts("lnd", tc.b))
			if !tc.clash {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var clash *orchestrator.PortClashError
			if !errors.Is(err, orchestrator.ErrPortClash) || !errors.Is(err, runtime.ErrInvalidSpec) || !errors.As(err, &clash) ||
				!strings.Contains(err.Error(), `app "btc"`) || !strings.Contains(err.Error(), `app "lnd"`) || strings.Count(err.Error(), "also published") != 1 {
				t.Fatalf("err = %v, want one PortClashError naming both apps", err)
			}
			if len(o.Apps()) != 0 || rt.TotalCalls() != 0 {
				t.Fatalf("side effects: apps %v, %d runtime calls", o.Apps(), rt.TotalCalls())
			}
			// Against a registered app, Install refuses it too.
			if err := o.Register(ctx, withPorts("btc", tc.a)); err != nil {
				t.Fatal(err)
			}
			if _, err := o.Install(ctx, withPorts("lnd", tc.b)); !errors.Is(err, orchestrator.ErrPortClash) || rt.TotalCalls() != 0 {
				t.Fatalf("install: %v, %d runtime calls", err, rt.TotalCalls())
			}
		})
	}
}

// TestPortClashProperty: registration refuses two apps exactly when some host port, protocol
// and address is published by both (checked port by port).
func TestPortClashProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		port := func(label string) runtime.Port {
			return runtime.Port{
				HostIP:        rapid.SampledFrom([]string{"", "0.0.0.0", "127.0.0.1", "192.0.2.1"}).Draw(t, label+".ip"),
				HostPort:      uint16(rapid.IntRange(8000, 8012).Draw(t, label+".port")),
				ContainerPort: 80,
				Count:         uint16(rapid.IntRange(0, 4).Draw(t, label+".count")),
				Protocol:      rapid.SampledFrom([]string{"", "tcp", "udp"}).Draw(t, label+".proto"),
			}
		}
		a, b := port("a"), port("b")
		want := false
		for p := int(a.HostPort); p < int(a.HostPort)+int(max(a.Count, 1)); p++ {
			for q := int(b.HostPort); q < int(b.HostPort)+int(max(b.Count, 1)); q++ {
				anyA, anyB := a.HostIP == "" || a.HostIP == "0.0.0.0", b.HostIP == "" || b.HostIP == "0.0.0.0"
				sameProto := (a.Protocol == "udp") == (b.Protocol == "udp")
				want = want || (p == q && sameProto && (anyA || anyB || a.HostIP == b.HostIP))
			}
		}
		appA, appB := newApp("a"), newApp("b")
		appA.Container.Ports, appB.Container.Ports = []runtime.Port{a}, []runtime.Port{b}
		_, o := setup(orchestrator.Options{})
		err := o.RegisterAll(context.Background(), appA, appB)
		if got := errors.Is(err, orchestrator.ErrPortClash); got != want {
			t.Fatalf("%+v and %+v: clash %v (%v), want %v", a, b, got, err, want)
		}
	})
}
