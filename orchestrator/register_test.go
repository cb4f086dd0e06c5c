package orchestrator_test

import (
	"context"
	"errors"
	"testing"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

// An app whose inputs cannot be met (secrets without a secret store) refuses the whole set,
// whatever its place in it.
func TestRegisterAllIsAllOrNothingOnInputs(t *testing.T) {
	bad := newApp("b-secretive")
	bad.Secrets = []orchestrator.Secret{{Name: "rpc", Value: func(context.Context) ([]byte, error) { return []byte("x"), nil }}}
	for _, apps := range [][]orchestrator.App{{newApp("a-plain"), bad}, {bad, newApp("a-plain")}} {
		o := orchestrator.New(fake.New(), orchestrator.Options{Logger: quiet})
		if err := o.RegisterAll(context.Background(), apps...); !errors.Is(err, runtime.ErrInvalidSpec) {
			t.Fatalf("RegisterAll = %v, want ErrInvalidSpec (no Options.Secrets)", err)
		}
		if names := o.Apps(); len(names) != 0 {
			t.Fatalf("a refused set left %v registered", names)
		}
	}
}

// RegisterAllNoHostCheck asks the host nothing; RegisterAll refuses what the host cannot run.
func TestRegisterAllNoHostCheck(t *testing.T) {
	rt := rootlessFake{Runtime: fake.New(), start: 1024}
	app := newApp("web")
	app.Container.Ports = []runtime.Port{{HostPort: 80, ContainerPort: 8080}}
	o := orchestrator.New(rt, orchestrator.Options{Logger: quiet})
	if err := o.RegisterAll(context.Background(), app); !errors.Is(err, runtime.ErrInvalidSpec) {
		t.Fatalf("RegisterAll = %v, want ErrInvalidSpec", err)
	}
	if err := o.RegisterAllNoHostCheck(context.Background(), app); err != nil {
		t.Fatalf("RegisterAllNoHostCheck = %v", err)
	}
	if names := o.Apps(); len(names) != 1 {
		t.Fatalf("apps %v, want web", names)
	}
}
