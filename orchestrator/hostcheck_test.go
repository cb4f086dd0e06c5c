package orchestrator_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

// rootlessFake is the fake engine running rootless on a host whose unprivileged ports start
// at start.
type rootlessFake struct {
	*fake.Runtime
	start int
}

func (r rootlessFake) CheckHost(_ context.Context, spec runtime.ContainerSpec) error {
	return runtime.CheckPortStart(spec, r.start)
}

func TestLowPortRefusedBeforeAnySideEffect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { lowPortRefused(t) })
}

func lowPortRefused(t *testing.T) {
	rt := rootlessFake{Runtime: fake.New(), start: 1024}
	rt.AddImage(image)
	o := orchestrator.New(rt, orchestrator.Options{Logger: quiet})
	ctx := context.Background()
	app := newApp("web")
	app.Container.Ports = []runtime.Port{{HostPort: 80, ContainerPort: 8080}}

	_, err := o.Install(ctx, app)
	var ve *runtime.ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, runtime.ErrInvalidSpec) || ve.Problems[0].Field != "Ports[0].HostPort" {
		t.Fatalf("Install = %v, want a *runtime.ValidationError naming Ports[0].HostPort", err)
	}
	if err := o.Register(ctx, app); !errors.Is(err, runtime.ErrInvalidSpec) {
		t.Fatalf("Register = %v, want ErrInvalidSpec", err)
	}
	if n := rt.TotalCalls(); n != 0 {
		t.Fatalf("%d engine calls before the refusal; engine: %s", n, rt.Runtime)
	}
	if names := o.Apps(); len(names) != 0 {
		t.Fatalf("refused app registered: %v", names)
	}

	app.Container.Ports[0].HostPort = 8080
	if _, err := o.Install(ctx, app); err != nil {
		t.Fatalf("port 8080: %v", err)
	}
}

// unreachableHost is an engine whose host cannot be asked.
type unreachableHost struct{ *fake.Runtime }

func (unreachableHost) CheckHost(context.Context, runtime.ContainerSpec) error {
	return fmt.Errorf("podman: info: %w", runtime.ErrUnavailable)
}

func TestRegisterWithUnreachableHostCheck(t *testing.T) {
	o := orchestrator.New(unreachableHost{fake.New()}, orchestrator.Options{Logger: quiet})
	if err := o.Register(context.Background(), newApp("web")); err != nil {
		t.Fatalf("Register = %v: an engine that cannot be asked must not refuse an app", err)
	}
}
