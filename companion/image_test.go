package companion_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skerry-dev/skerry/companion"
	qfake "github.com/skerry-dev/skerry/quadlet/fake"
	"github.com/skerry-dev/skerry/runtime"
	rfake "github.com/skerry-dev/skerry/runtime/fake"
)

// pulls records the options of every pull.
type pulls struct {
	*rfake.Runtime
	opts map[string]runtime.PullOptions
}

func (p *pulls) Pull(ctx context.Context, ref string, opts runtime.PullOptions) error {
	p.opts[ref] = opts
	return p.Runtime.Pull(ctx, ref, opts)
}

func TestImagePolicy(t *testing.T) {
	ctx := context.Background()
	t.Run("local build", func(t *testing.T) {
		e := setup(t, companion.Options{})
		s := uiSpec("ui")
		s.Image = "localhost/built-ui:2"
		s.Build = &companion.Build{ContextDir: "/srv/skerry/ui"}
		e.m.Register("app", s)
		if err := e.m.Install(ctx, "app"); err != nil || e.images.Calls(rfake.OpBuild) != 1 || e.images.Calls(rfake.OpPull) != 0 {
			t.Fatalf("err %v builds %d pulls %d", err, e.images.Calls(rfake.OpBuild), e.images.Calls(rfake.OpPull))
		}
	})
	for _, tc := range []struct {
		name, image string
		insecure    bool
	}{
		{"whitelisted registry: TLS verification off", "registry.node.local:5000/ui:3", true},
		{"any other registry: TLS verified", "docker.io/library/nginx:1.27", false},
		{"no registry named: docker.io, TLS verified", "nginx:1.27", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			images := &pulls{Runtime: rfake.New(), opts: map[string]runtime.PullOptions{}}
			images.MakePullable(tc.image)
			m, err := companion.New(qfake.New(dir), images, companion.Options{Dir: dir, Logger: quiet,
				InsecureRegistries: []string{"registry.node.local:5000"}})
			if err != nil {
				t.Fatal(err)
			}
			s := uiSpec("ui")
			s.Image = tc.image
			m.Register("app", s)
			if err := m.Install(ctx, "app"); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(map[string]runtime.PullOptions{tc.image: {Insecure: tc.insecure}}, images.opts); diff != "" {
				t.Fatalf("pulls (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("pull fails", func(t *testing.T) {
		e := setup(t, companion.Options{})
		s := uiSpec("ui")
		s.Image = "docker.io/library/nginx:1.27"
		e.m.Register("app", s)
		err := e.m.Install(ctx, "app")
		if !errors.Is(err, companion.ErrImageUnavailable) || !errors.Is(err, runtime.ErrImageNotFound) || e.images.Calls(rfake.OpPull) != 1 {
			t.Fatalf("err %v pulls %d", err, e.images.Calls(rfake.OpPull))
		}
		if entries, _ := os.ReadDir(e.dir); len(entries) != 0 {
			t.Fatal("a unit file was written for a companion whose image is unavailable")
		}
	})
}
