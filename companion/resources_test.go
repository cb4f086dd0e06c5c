package companion_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/quadlet"
	qfake "github.com/skerry-dev/skerry/quadlet/fake"
	"github.com/skerry-dev/skerry/runtime"
	rfake "github.com/skerry-dev/skerry/runtime/fake"
)

func limitedUI() companion.Spec {
	return companion.Spec{
		Name: "btc-ui", Image: "localhost/busybox:latest", Command: []string{"httpd", "-f"},
		Mounts: []runtime.Mount{
			{Type: runtime.MountBind, Source: "/srv/ui/nginx.conf", Target: "/etc/nginx.conf", ReadOnly: true, Relabel: runtime.RelabelShared},
			{Source: "ui-cache", Target: "/cache", Relabel: runtime.RelabelPrivate},
		},
		Resources: runtime.Resources{Memory: 64 << 20, MemorySwap: 64 << 20, MilliCPUs: 500, CPUWeight: 50, Pids: 64},
	}
}

// keyLines returns the lines of a rendered unit that set one of keys.
func keyLines(data []byte, keys ...string) []string {
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		for _, k := range keys {
			if strings.HasPrefix(l, k+"=") {
				out = append(out, l)
			}
		}
	}
	return out
}

func TestCompanionLimitsAndRelabelRendered(t *testing.T) {
	keys := []string{"Memory", "PidsLimit", "PodmanArgs", "Volume"}
	volumes := []string{"Volume=/srv/ui/nginx.conf:/etc/nginx.conf:ro,z", "Volume=ui-cache:/cache:Z"}
	for _, tc := range []struct {
		name string
		opts quadlet.Options
		want []string
	}{
		{"podman 5.5 has Memory=", quadlet.Options{Target: quadlet.Version{Major: 5, Minor: 5}}, append(volumes,
			"PidsLimit=64", "Memory=67108864",
			`PodmanArgs="--memory-swap=67108864" "--cpus=0.5" "--cpu-shares=1287"`)},
		{"podman 5.4 downgraded", quadlet.Options{Target: quadlet.Podman542, Downgrade: true}, append(volumes,
			"PidsLimit=64",
			`PodmanArgs="--memory-swap=67108864" "--cpus=0.5" "--cpu-shares=1287" "--memory=67108864"`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := quadlet.Render("btc-ui", limitedUI().Unit("bitcoind"), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := keyLines(data, keys...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
	// For podman 5.4 without Downgrade, Memory= is refused with a typed error naming the key.
	_, err := quadlet.Render("btc-ui", limitedUI().Unit("bitcoind"), quadlet.Options{Target: quadlet.Podman542})
	var qe *quadlet.Error
	if !errors.As(err, &qe) || !strings.Contains(err.Error(), "Memory") {
		t.Fatalf("5.4 without Downgrade: %v, want a *quadlet.Error naming Memory", err)
	}
	// No limits: none of the keys appear.
	s := limitedUI()
	s.Resources, s.Mounts = runtime.Resources{}, nil
	data, err := quadlet.Render("btc-ui", s.Unit("bitcoind"), quadlet.Options{Target: quadlet.Podman542})
	if err != nil {
		t.Fatal(err)
	}
	if got := keyLines(data, keys...); got != nil {
		t.Errorf("a companion without limits rendered %q", got)
	}
}

func TestCompanionLimitsValidated(t *testing.T) {
	s := limitedUI()
	s.Resources.Memory = 1 << 20
	s.Mounts[0].Relabel = "shared"
	e := setup(t, companion.Options{})
	err := e.m.Register("bitcoind", s)
	var ve *runtime.ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, runtime.ErrInvalidSpec) {
		t.Fatalf("Register = %v, want a *runtime.ValidationError", err)
	}
	var fields []string
	for _, p := range ve.Problems {
		fields = append(fields, p.Field)
	}
	if diff := cmp.Diff([]string{"Companions[0].Mounts[0].Relabel", "Companions[0].Resources.Memory"}, fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}

// rootlessImages is the fake engine running rootless, unprivileged ports from 1024.
type rootlessImages struct{ *rfake.Runtime }

func (rootlessImages) CheckHost(_ context.Context, spec runtime.ContainerSpec) error {
	return runtime.CheckPortStart(spec, 1024)
}

func TestCompanionLowPortRefusedBeforeAnySideEffect(t *testing.T) {
	dir := t.TempDir()
	images := rootlessImages{rfake.New()}
	images.AddImage(uiImage)
	units := qfake.New(dir)
	m, err := companion.New(units, images, companion.Options{Dir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s := limitedUI()
	s.Image, s.Resources, s.Mounts = uiImage, runtime.Resources{}, nil
	s.Ports = []runtime.Port{{HostPort: 80, ContainerPort: 8080}}
	if err := m.Register("bitcoind", s); err != nil {
		t.Fatal(err)
	}
	err = m.Install(context.Background(), "bitcoind")
	if !errors.Is(err, runtime.ErrInvalidSpec) || !strings.Contains(err.Error(), "Ports[0].HostPort") {
		t.Fatalf("Install = %v, want the low port refused", err)
	}
	if n := images.TotalCalls(); n != 0 {
		t.Errorf("%d engine calls before the refusal", n)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("files written before the refusal: %v", files)
	}
}
