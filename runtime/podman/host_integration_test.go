//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/system"

	"github.com/skerry-dev/skerry/runtime"
)

func fields(err error) []string {
	var ve *runtime.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var fs []string
	for _, p := range ve.Problems {
		fs = append(fs, p.Field)
	}
	return fs
}

// On the integration host podman is rootless, the unprivileged ports start at 1024 and the
// user's cgroup v2 subtree has no controllers (see docs/testing.md): a low port and any
// limit are refused by CheckHost and by Create, before a container exists.
func TestHostRefusesLowPortsAndUnenforceableLimits(t *testing.T) {
	r := connect(t)
	ctx := context.Background()
	info, err := system.Info(r.with(ctx), nil)
	if err != nil {
		t.Fatal(err)
	}
	start, err := runtime.ReadUnprivilegedPortStart(runtime.UnprivilegedPortStartFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rootless=%v cgroups=%s controllers=%v ip_unprivileged_port_start=%d",
		info.Host.Security.Rootless, info.Host.CgroupsVersion, info.Host.CgroupControllers, start)
	if !info.Host.Security.Rootless || start <= 80 {
		t.Skip("needs a rootless engine and unprivileged ports starting above 80")
	}
	name := uniq("lowport")
	s := webSpec(name, 80)
	s.Resources = runtime.Resources{Memory: 64 << 20, Pids: 64}
	var want []string
	want = append(want, "Ports[0].HostPort")
	if !slices.Contains(info.Host.CgroupControllers, "memory") {
		want = append(want, "Resources.Memory")
	}
	if !slices.Contains(info.Host.CgroupControllers, "pids") {
		want = append(want, "Resources.Pids")
	}
	err = r.CheckHost(ctx, s)
	if !errors.Is(err, runtime.ErrInvalidSpec) || !slices.Equal(fields(err), want) {
		t.Fatalf("CheckHost = %v, want problems with %v", err, want)
	}
	err = r.Create(ctx, s)
	if !errors.Is(err, runtime.ErrInvalidSpec) || !slices.Equal(fields(err), want) {
		t.Fatalf("Create = %v, want problems with %v", err, want)
	}
	if _, err := r.Inspect(ctx, name); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("a refused container exists: %v", err)
	}
	s = webSpec(name, 18081)
	if err := r.CheckHost(ctx, s); err != nil {
		t.Fatalf("port %d, no limits: %v", s.Ports[0].HostPort, err)
	}
}

// With the host facts replaced (all controllers, rootful), Create hands every limit and the
// relabel option to podman, which records them: what a host with delegated controllers runs.
func TestLimitsAndRelabelReachPodman(t *testing.T) {
	r := connect(t)
	r.host.known, r.host.controllers = true, []string{"memory", "cpu", "pids"}
	ctx := context.Background()
	name := uniq("limits")
	s := webSpec(name, 18000+uint16(len(name)))
	s.Ports = nil
	s.Mounts = []runtime.Mount{{Source: name + "-data", Target: "/data", Relabel: runtime.RelabelPrivate}}
	s.Resources = runtime.Resources{Memory: 64 << 20, MemorySwap: 128 << 20, MilliCPUs: 1500, CPUWeight: 100, Pids: 64}
	if err := r.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Remove(context.Background(), name, runtime.RemoveOptions{Force: true, Volumes: true}) })
	d, err := containers.Inspect(r.with(ctx), name, nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := d.HostConfig
	got := []int64{hc.Memory, hc.MemorySwap, hc.CpuQuota, int64(hc.CpuPeriod), int64(hc.CpuShares), hc.PidsLimit}
	want := []int64{64 << 20, 128 << 20, 150000, 100000, int64(s.Resources.CPUShares()), 64}
	if !slices.Equal(got, want) {
		t.Errorf("memory, swap, quota, period, shares, pids = %v, want %v", got, want)
	}
	o, err := r.Inspect(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Mounts) != 1 || o.Mounts[0].Relabel != runtime.RelabelPrivate {
		t.Errorf("mounts = %+v, want the volume relabelled Z", o.Mounts)
	}
	id, err := r.ImageID(ctx, testImage)
	if err != nil || o.ImageID == "" || o.ImageID != id {
		t.Errorf("container image ID %q, %s resolves to %q (%v)", o.ImageID, testImage, id, err)
	}
	if _, err := r.ImageID(ctx, "localhost/no-such-image:1"); !errors.Is(err, runtime.ErrImageNotFound) {
		t.Errorf("ImageID of a missing image: %v", err)
	}
	// A start without the controllers fails in crun: the reason CheckHost refuses such limits.
	if err := r.Start(ctx, name); err == nil {
		t.Log("the host enforces the limits: start succeeded")
	} else {
		t.Logf("start without the controllers: %v", err)
	}
}

// A pull reports its layers through PullOptions.Progress. No registry is reachable from the
// integration host and podman's API pulls from registries only, so the test image is saved as
// an OCI layout and served by a minimal read-only registry on loopback (plain HTTP: Insecure).
func TestPullReportsProgress(t *testing.T) {
	r := connect(t)
	ctx := context.Background()
	layout := filepath.Join(t.TempDir(), "oci")
	if out, err := exec.Command("podman", "save", "--format", "oci-dir", "-o", layout, testImage).CombinedOutput(); err != nil {
		t.Fatalf("podman save: %v: %s", err, out)
	}
	var index struct{ Manifests []struct{ Digest string } }
	if b, err := os.ReadFile(filepath.Join(layout, "index.json")); err != nil || json.Unmarshal(b, &index) != nil || len(index.Manifests) == 0 {
		t.Fatalf("index.json: %v", err)
	}
	blob := func(d string) string { return filepath.Join(layout, "blobs", strings.Replace(d, ":", "/", 1)) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch p := req.URL.Path; {
		case p == "/v2/":
		case strings.HasSuffix(p, "/manifests/v1") || strings.Contains(p, "/manifests/sha256:"):
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.Header().Set("Docker-Content-Digest", index.Manifests[0].Digest)
			http.ServeFile(w, req, blob(index.Manifests[0].Digest))
		case strings.Contains(p, "/blobs/"):
			http.ServeFile(w, req, blob(p[strings.LastIndex(p, "/")+1:]))
		default:
			http.NotFound(w, req)
		}
	}))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/skerry/progress:v1"
	var got []runtime.PullProgress
	opts := runtime.PullOptions{Insecure: true, Progress: func(p runtime.PullProgress) { got = append(got, p) }}
	if err := r.Pull(ctx, ref, opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exec.Command("podman", "rmi", ref).Run() })
	for _, p := range got {
		t.Logf("%+v", p)
	}
	if len(got) == 0 {
		t.Fatal("no progress reported")
	}
	last := got[len(got)-1]
	if last.Ref != ref || last.Layers < 1 || !last.Config || last.Bytes != -1 {
		t.Errorf("last progress %+v: want the ref, at least one layer, the config, Bytes -1", last)
	}
}
