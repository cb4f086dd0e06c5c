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
// in Options.InsecureRegistries. A failed pull is ErrImageUnavailable.
func (m *Manager) ensureImage(ctx context.Context, s Spec) error {
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
		return nil
	}
	insecure := slices.Contains(m.opts.InsecureRegistries, registryOf(s.Image))
	m.log.Info("pulling companion image", "companion", s.Name, "image", s.Image, "tls_verify", !insecure)
	if err := m.images.Pull(ctx, s.Image, runtime.PullOptions{Insecure: insecure}); err != nil {
		return fmt.Errorf("companion %s: %s is not present locally, has no build context, and the pull failed: %w: %w",
			s.Name, s.Image, ErrImageUnavailable, err)
	}
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
