package companion

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/skerry-dev/skerry/runtime"
)

// ensureImage makes a companion's image present: already there, else built from its local
// context, else pulled from its registry, with TLS verification unless the registry is listed
// in Options.InsecureRegistries. A failed pull is ErrImageUnavailable. A pull's progress goes
// to Options.OnPull, and a pulled tag is resolved again at the next pass (tags.go).
func (m *Manager) ensureImage(ctx context.Context, app string, s Spec) error {
	ok, err := m.images.ImageExists(ctx, s.Image)
	if err != nil {
		return fmt.Errorf("companion %s: image %s: %w", s.Name, s.Image, err)
	}
	switch {
	case ok:
		return nil
	case s.Build != nil:
		m.log.Info("building companion image", "companion", s.Name, "image", s.Image)
		if err := m.images.Build(ctx, runtime.BuildOptions{ContextDir: s.Build.ContextDir, Containerfile: s.Build.Containerfile, Tag: s.Image}); err != nil {
			return fmt.Errorf("companion %s: build %s: %w", s.Name, s.Image, err)
		}
		m.tags.Stale(s.Image)
		return nil
	}
	insecure := slices.Contains(m.opts.InsecureRegistries, registryOf(s.Image))
	m.log.Info("pulling companion image", "companion", s.Name, "image", s.Image, "tls_verify", !insecure)
	opts := runtime.PullOptions{Insecure: insecure}
	if on := m.opts.OnPull; on != nil {
		last := runtime.PullProgress{Ref: s.Image, Bytes: -1}
		on(app, s.Name, last, false)
		opts.Progress = func(p runtime.PullProgress) { last = p; on(app, s.Name, p, false) }
		defer func() { on(app, s.Name, last, true) }()
	}
	if err := m.images.Pull(ctx, s.Image, opts); err != nil {
		return fmt.Errorf("companion %s: %s is not present locally, has no build context, and the pull failed: %w: %w",
			s.Name, s.Image, ErrImageUnavailable, err)
	}
	m.tags.Stale(s.Image)
	return nil
}

// registryOf returns the registry host of an image reference ("docker.io" when it names none).
func registryOf(ref string) string {
	first, _, found := strings.Cut(ref, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first
	}
	return "docker.io"
}
