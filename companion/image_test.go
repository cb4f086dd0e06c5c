package companion_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

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

// slowPull is an engine whose pulls block until release is closed.
type slowPull struct {
	*rfake.Runtime
	started chan struct{}
	release chan struct{}
}

func (p *slowPull) Pull(ctx context.Context, ref string, opts runtime.PullOptions) error {
	close(p.started)
	<-p.release
	return p.Runtime.Pull(ctx, ref, opts)
}

// An operation waiting behind another app's slow pull gives up when its ctx ends (a shutdown
// is not stuck behind the pull).
func TestWaitBehindSlowPullHonoursContext(t *testing.T) {
	dir := t.TempDir()
	images := &slowPull{Runtime: rfake.New(), started: make(chan struct{}), release: make(chan struct{})}
	images.AddImage(uiImage)
	const pulled = "docker.io/library/nginx:1.27"
	images.MakePullable(pulled)
	m, err := companion.New(qfake.New(dir), images, companion.Options{Dir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	slow := uiSpec("slow-ui")
	slow.Image = pulled
	if err := m.Register("slow", slow); err != nil {
		t.Fatal(err)
	}
	other := uiSpec("other-ui")
	other.Ports = nil
	if err := m.Register("other", other); err != nil {
		t.Fatal(err)
	}
	pulling := make(chan error, 1)
	go func() { pulling <- m.Install(context.Background(), "slow") }()
	<-images.started

	ctx, cancel := context.WithCancel(context.Background())
	installed := make(chan error, 1)
	reconciled := make(chan []companion.UnitReport, 1)
	go func() { installed <- m.Install(ctx, "other") }()
	go func() { reconciled <- m.Reconcile(ctx) }()
	cancel()
	guard := time.After(10 * time.Second) // only a failing run waits this long
	select {
	case err := <-installed:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Install behind the pull = %v, want context.Canceled", err)
		}
	case <-guard:
		t.Fatal("Install waits for another app's pull although its ctx ended")
	}
	select {
	case reps := <-reconciled:
		if len(reps) != 1 || !errors.Is(reps[0].Err, context.Canceled) {
			t.Errorf("Reconcile behind the pull = %+v, want one report with context.Canceled", reps)
		}
	case <-guard:
		t.Fatal("Reconcile waits for another app's pull although its ctx ended")
	}
	close(images.release)
	if err := <-pulling; err != nil {
		t.Fatalf("the slow Install: %v", err)
	}
	if err := m.Install(context.Background(), "other"); err != nil {
		t.Fatalf("Install after the pull: %v", err)
	}
}
