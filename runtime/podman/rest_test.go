//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	nettypes "github.com/containers/common/libnetwork/types"
	"github.com/containers/image/v5/manifest"
	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/bindings/network"
	"github.com/containers/podman/v5/pkg/bindings/secrets"
	"github.com/containers/podman/v5/pkg/bindings/system"
	"github.com/containers/podman/v5/pkg/bindings/volumes"
	"github.com/containers/podman/v5/pkg/domain/entities"
	"github.com/containers/podman/v5/pkg/specgen"
	"github.com/google/go-cmp/cmp"
	spec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skerry-dev/skerry/runtime"
)

// recorder is an HTTP handler that records each request as one line and answers what podman
// would, in short.
type recorder struct {
	mu   sync.Mutex
	reqs []string
}

// take returns the requests recorded since the last take.
func (rec *recorder) take() string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	s := strings.Join(rec.reqs, "\n")
	rec.reqs = nil
	return s
}

// describeBody is a request body as a comparable string: a gzipped tar as its sorted entries,
// JSON canonicalized, anything else raw.
func describeBody(b []byte) string {
	if len(b) == 0 {
		return "<none>"
	}
	if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return "badgzip"
		}
		tr := tar.NewReader(zr)
		var names []string
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			data, _ := io.ReadAll(tr)
			names = append(names, fmt.Sprintf("%s:%c:%o:%d:%d:%s:%q", h.Name, h.Typeflag, h.Mode, h.Uid, h.Size, h.Linkname, data))
		}
		sort.Strings(names)
		return "TAR[" + strings.Join(names, " ") + "]"
	}
	var v any
	if json.Unmarshal(b, &v) == nil {
		c, _ := json.Marshal(v)
		return "JSON" + string(c)
	}
	return "RAW" + string(b)
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	q := req.URL.Query()
	var keys []string
	for k := range q {
		keys = append(keys, k+"="+strings.Join(q[k], ","))
	}
	sort.Strings(keys)
	hdr := []string{}
	for k, v := range req.Header {
		if k == "User-Agent" || k == "Accept-Encoding" || k == "Content-Length" {
			continue
		}
		hdr = append(hdr, k+"="+strings.Join(v, ","))
	}
	sort.Strings(hdr)
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, fmt.Sprintf("%s %s ?%v H%v B%s", req.Method, req.URL.Path, keys, hdr, describeBody(b)))
	rec.mu.Unlock()
	p := req.URL.Path
	send := func(code int, body string) { w.WriteHeader(code); io.WriteString(w, body) }
	w.Header().Set("Libpod-API-Version", "5.4.2")
	switch {
	case strings.HasSuffix(p, "/_ping"):
		send(200, "OK")
	case strings.HasSuffix(p, "/exists"):
		send(204, "")
	case strings.HasSuffix(p, "/containers/json"), strings.HasSuffix(p, "/images/json"), strings.HasSuffix(p, "/networks/json"):
		send(200, "[]")
	case strings.HasSuffix(p, "/containers/create"):
		send(201, `{"Id":"x","Warnings":[]}`)
	case strings.Contains(p, "/containers/") && strings.HasSuffix(p, "/json"):
		send(200, `{"Id":"x","State":{"Status":"running","ConmonPid":0}}`)
	case strings.HasSuffix(p, "/wait"):
		send(200, "0")
	case strings.HasSuffix(p, "/healthcheck"):
		send(200, `{"Status":"healthy"}`)
	case strings.HasSuffix(p, "/logs"):
		w.WriteHeader(200)
		var h [8]byte
		h[0] = 1
		binary.BigEndian.PutUint32(h[4:], 6)
		w.Write(h[:])
		io.WriteString(w, "hello\n")
	case strings.HasSuffix(p, "/events"):
		send(200, `{"Type":"container","Action":"start","Actor":{"ID":"x","Attributes":{"name":"n"}},"timeNano":1}`+"\n")
	case strings.HasSuffix(p, "/info"):
		send(200, `{"host":{"security":{"rootless":true},"cgroupVersion":"v2","cgroupControllers":["memory","cpu","pids"]}}`)
	case strings.HasSuffix(p, "/system/df"):
		send(200, `{"Volumes":[{"VolumeName":"v","Size":5}]}`)
	case strings.HasSuffix(p, "/images/remove"):
		send(200, `{"Deleted":["a"],"Errors":[]}`)
	case strings.Contains(p, "/images/") && strings.HasSuffix(p, "/json"):
		send(200, `{"Id":"abc"}`)
	case strings.HasSuffix(p, "/images/pull"):
		send(200, `{"stream":"Copying blob sha256:1\n"}`+"\n"+`{"images":["a"],"id":"a"}`+"\n")
	case strings.HasSuffix(p, "/build"):
		send(200, `{"stream":"STEP 1\n"}`+"\n"+`{"stream":"0123456789abcdef\n"}`+"\n")
	case strings.HasSuffix(p, "/networks/create"):
		send(200, `{"name":"n"}`)
	case strings.Contains(p, "/networks/") && req.Method == "DELETE":
		send(200, `[{"Name":"n"}]`)
	case strings.Contains(p, "/containers/") && req.Method == "DELETE":
		send(200, `[{"Id":"x"}]`)
	case strings.HasSuffix(p, "/secrets/create"):
		send(200, `{"ID":"s"}`)
	case strings.Contains(p, "/secrets/") && strings.HasSuffix(p, "/json"):
		send(200, `{"ID":"s","Spec":{"Labels":{}},"SecretData":"`+strings.Repeat("ab", 32)+`"}`)
	default:
		send(204, "")
	}
}

// TestRequestsMatchTheBindings checks that every call of the adapter sends podman the request
// the bindings' function it replaces sends (method, path, query, headers, body; a build's
// context tar entry by entry), against a recording server.
func TestRequestsMatchTheBindings(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	srv := &http.Server{Handler: rec}
	go srv.Serve(l)
	defer srv.Close()
	ctx := context.Background()
	r, err := New(ctx, "unix://"+sock)
	if err != nil {
		t.Fatal(err)
	}
	r.DisableDirectChecks() // RunHealthCheck is compared on podman's call (directexec_test.go has the other)
	rec.take()              // the connection's ping
	t.Chdir(dir)            // no Containerfile here: the bindings look for one in the working directory first
	b := r.with(ctx)

	ctxDir := filepath.Join(dir, "ctx")
	os.MkdirAll(filepath.Join(ctxDir, "sub", "deep"), 0o755)
	os.WriteFile(filepath.Join(ctxDir, "Containerfile"), []byte("FROM x\n"), 0o644)
	os.WriteFile(filepath.Join(ctxDir, "a.txt"), []byte("a"), 0o600)
	os.WriteFile(filepath.Join(ctxDir, "skip.log"), []byte("s"), 0o644)
	os.WriteFile(filepath.Join(ctxDir, "sub", "deep", "keep.log"), []byte("k"), 0o644)
	os.WriteFile(filepath.Join(ctxDir, "sub", "b"), []byte("bb"), 0o755)
	os.Link(filepath.Join(ctxDir, "sub", "b"), filepath.Join(ctxDir, "sub", "b2"))
	os.Symlink("a.txt", filepath.Join(ctxDir, "ln"))
	os.WriteFile(filepath.Join(ctxDir, ".containerignore"), []byte("# c\n*.log\n!sub/deep/keep.log\n"), 0o644)

	stop := uint(3)
	mem := int64(1 << 20)
	sg := specgen.NewSpecGenerator("img", false)
	sg.Name = "n"
	sg.Entrypoint, sg.Command = []string{"/bin/sh"}, []string{"-c", "x"}
	sg.Env, sg.Labels = map[string]string{"A": "1"}, map[string]string{"l": "v"}
	sg.Secrets, sg.EnvSecrets = specSecrets([]runtime.SecretRef{{Kind: runtime.SecretMount, Name: "s"}, {Kind: runtime.SecretEnv, Name: "e", Target: "E"}})
	sg.CapAdd, sg.CapDrop = []string{"NET_ADMIN"}, []string{"ALL"}
	sg.User = "1000"
	sg.NetNS = specgen.Namespace{NSMode: specgen.Bridge}
	sg.Networks = map[string]nettypes.PerNetworkOptions{"net": {}}
	sg.PortMappings = []nettypes.PortMapping{{HostIP: "127.0.0.1", HostPort: 80, ContainerPort: 8080, Range: 1, Protocol: "tcp"}}
	sg.Volumes = []*specgen.NamedVolume{{Name: "v", Dest: "/d", Options: []string{"ro", "Z"}}}
	sg.Mounts = []spec.Mount{{Type: "bind", Source: "/s", Destination: "/t", Options: []string{"rbind"}}}
	sg.HealthConfig = &manifest.Schema2HealthConfig{Test: []string{"CMD", "true"}, Interval: time.Second, Timeout: time.Second, Retries: 3}
	sg.StopTimeout = &stop
	sg.ResourceLimits = &spec.LinuxResources{Memory: &spec.LinuxMemory{Limit: &mem}}
	netw := &nettypes.Network{Name: "n", Driver: "bridge", Internal: true, DNSEnabled: true, Labels: map[string]string{"a": "b"}}

	interval := "10s"
	var progress []runtime.PullProgress
	cases := []struct {
		name   string
		theirs func()
		ours   func()
	}{
		{"list", func() {
			containers.List(b, new(containers.ListOptions).WithAll(true).WithFilters(map[string][]string{"label": {"a=b", "c=d"}}))
		}, func() { r.List(ctx, runtime.ListOptions{Labels: map[string]string{"a": "b", "c": "d"}}) }},
		{"list nolabels", func() { containers.List(b, new(containers.ListOptions).WithAll(true)) }, func() { r.List(ctx, runtime.ListOptions{}) }},
		{"inspect", func() { containers.Inspect(b, "n/x", nil) }, func() { r.Inspect(ctx, "n/x") }},
		{"create", func() { containers.CreateWithSpec(b, sg, nil) }, func() { r.createWithSpec(ctx, sg) }},
		{"start", func() { containers.Start(b, "n", nil) }, func() { r.Start(ctx, "n") }},
		{"waitexit", func() {
			containers.Wait(b, "n", &containers.WaitOptions{Conditions: []string{"exited", "stopped"}, Interval: &interval})
		}, func() { r.wait(ctx, "n", "10s") }},
		{"wait helper", func() {
			containers.Wait(b, "n", &containers.WaitOptions{Conditions: []string{"exited", "stopped"}})
		}, func() { r.wait(ctx, "n", "") }},
		{"stop", func() { containers.Stop(b, "n", new(containers.StopOptions).WithTimeout(3)) }, func() { r.Stop(ctx, "n", 2500*time.Millisecond) }},
		{"stop0", func() { containers.Stop(b, "n", new(containers.StopOptions)) }, func() { r.Stop(ctx, "n", 0) }},
		{"kill", func() { containers.Kill(b, "n", new(containers.KillOptions).WithSignal("SIGKILL")) }, func() { r.Kill(ctx, "n", "") }},
		{"remove", func() {
			containers.Remove(b, "n", new(containers.RemoveOptions).WithForce(true).WithVolumes(false))
		}, func() { r.Remove(ctx, "n", runtime.RemoveOptions{Force: true}) }},
		{"remove helper", func() {
			containers.Remove(b, "n", new(containers.RemoveOptions).WithForce(true).WithTimeout(0))
		}, func() { r.removeHelper(ctx, "n") }},
		{"rename", func() { containers.Rename(b, "n", new(containers.RenameOptions).WithName("m")) }, func() { r.Rename(ctx, "n", "m") }},
		{"health", func() { containers.RunHealthCheck(b, "n", nil) }, func() { r.RunHealthCheck(ctx, "n") }},
		{"logs", func() {
			o, e := make(chan string, 9), make(chan string, 9)
			containers.Logs(b, "n", new(containers.LogOptions).WithStdout(true).WithStderr(true).WithTail("5"), o, e)
		}, func() { r.Logs(ctx, "n", 5) }},
		{"image exists", func() { images.Exists(b, "img:1", nil) }, func() { r.ImageExists(ctx, "img:1") }},
		{"image id", func() { images.GetImage(b, "img:1", nil) }, func() { r.ImageID(ctx, "img:1") }},
		{"images", func() { images.List(b, new(images.ListOptions).WithAll(true)) }, func() { r.Images(ctx) }},
		{"image rm", func() { images.Remove(b, []string{"abc"}, new(images.RemoveOptions).WithForce(false)) }, func() { r.DeleteImage(ctx, "abc") }},
		{"pull quiet", func() {
			images.Pull(b, "img:1", new(images.PullOptions).WithQuiet(true).WithProgressWriter(io.Discard).WithRetry(0))
		}, func() { r.Pull(ctx, "img:1", runtime.PullOptions{}) }},
		{"pull progress insecure", func() {
			images.Pull(b, "img:1", new(images.PullOptions).WithQuiet(false).WithProgressWriter(io.Discard).WithRetry(0).WithSkipTLSVerify(true))
		}, func() {
			r.Pull(ctx, "img:1", runtime.PullOptions{Insecure: true, Progress: func(p runtime.PullProgress) { progress = append(progress, p) }})
		}},
		{"build", func() {
			bo := entities.BuildOptions{}
			bo.ContextDirectory = ctxDir
			bo.Output = "t:1"
			bo.Out, bo.Err, bo.ReportWriter = io.Discard, io.Discard, io.Discard
			_, err := images.Build(b, []string{"Containerfile"}, bo)
			if err != nil {
				t.Error(err)
			}
		}, func() {
			if err := r.Build(ctx, runtime.BuildOptions{ContextDir: ctxDir, Tag: "t:1"}); err != nil {
				t.Error(err)
			}
		}},
		{"info", func() { system.Info(b, nil) }, func() { r.host = hostFacts{}; r.facts(ctx) }},
		{"df", func() { system.DiskUsage(b, nil) }, func() {
			rec.take()
			r.call(ctx, http.MethodGet, "/system/df", nil, nil, nil)
		}},
		{"events", func() {
			ch := make(chan entities.Event, 9)
			c := make(chan bool)
			system.Events(b, ch, c, new(system.EventsOptions).WithStream(true).WithFilters(map[string][]string{"type": {"container"}, "label": {runtime.LabelManaged + "=true"}}))
			for range ch {
			}
		}, func() {
			ch, _ := r.Events(ctx)
			for range ch {
			}
		}},
		{"vol exists", func() { volumes.Exists(b, "v", nil) }, func() { r.volumeExists(ctx, "v") }},
		{"vol rm", func() { volumes.Remove(b, "v", nil) }, func() { r.call(ctx, http.MethodDelete, "/volumes/%s", nil, nil, nil, "v") }},
		{"net create", func() { network.Create(b, netw) }, func() {
			r.CreateNetwork(ctx, runtime.NetworkSpec{Name: "n", Internal: true, Labels: map[string]string{"a": "b"}})
		}},
		{"net list", func() { network.List(b, new(network.ListOptions).WithFilters(map[string][]string{"label": {"a=b"}})) }, func() {
			r.ListNetworks(ctx, map[string]string{"a": "b"})
		}},
		{"net rm", func() { network.Remove(b, "n", nil) }, func() { r.RemoveNetwork(ctx, "n") }},
		{"secret inspect", func() { secrets.Inspect(b, "s", nil) }, func() { r.SecretVersion(ctx, "s") }},
		{"secret inspect show", func() { secrets.Inspect(b, "s", new(secrets.InspectOptions).WithShowSecret(true)) }, func() {
			r.inspectSecret(ctx, "s", true)
		}},
		{"secret create", func() {
			secrets.Create(b, strings.NewReader("v"), new(secrets.CreateOptions).WithName("s").WithReplace(true).WithLabels(map[string]string{labelFingerprint: "f"}))
		}, func() {
			x := true
			r.createSecret(ctx, "s", strings.NewReader("v"), &x, map[string]string{labelFingerprint: "f"})
		}},
		{"secret create key", func() {
			secrets.Create(b, strings.NewReader("v"), new(secrets.CreateOptions).WithName("s"))
		}, func() { r.createSecret(ctx, "s", strings.NewReader("v"), nil, nil) }},
		{"secret rm", func() { secrets.Remove(b, "s") }, func() { r.RemoveSecret(ctx, "s") }},
	}
	for _, c := range cases {
		rec.take()
		c.theirs()
		want := rec.take()
		c.ours()
		got := rec.take()
		if diff := cmp.Diff(want, got); diff != "" || got == "" {
			t.Errorf("%s: the adapter's request differs from the bindings' (-bindings +adapter):\n%s", c.name, diff)
		}
	}
	if len(progress) != 1 || progress[0].Layers != 1 {
		t.Errorf("pull progress = %+v, want one report of one layer", progress)
	}
}
