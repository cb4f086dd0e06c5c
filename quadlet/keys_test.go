//go:build !integration

package quadlet_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/skerry-dev/skerry/quadlet"
)

var (
	keyConstRE = regexp.MustCompile(`(?m)^\s*(Key\w+)\s*=\s*"(\w+)"`)
	keyLineRE  = regexp.MustCompile(`^\s*(Key\w+):\s*true,`)
)

// containerKeys reads the [Container] keys Quadlet accepts from a podman release's
// pkg/systemd/quadlet/quadlet.go (supportedContainerKeys up to 5.5, groupsInfo after).
func containerKeys(t *testing.T, dir string) map[string]bool { return groupKeys(t, dir, "Container") }

// groupKeys reads the keys of a group ("Container", "Network", "Volume").
func groupKeys(t *testing.T, dir, group string) map[string]bool {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(dir, "pkg", "systemd", "quadlet", "quadlet.go"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, m := range keyConstRE.FindAllStringSubmatch(string(src), -1) {
		names[m[1]] = m[2]
	}
	keys := map[string]bool{}
	in := false
	for _, line := range strings.Split(string(src), "\n") {
		switch {
		case strings.Contains(line, "supported"+group+"Keys = map[string]bool{") || strings.Contains(line, "\t"+group+"Group: {"):
			in = true
		case in && keyLineRE.MatchString(line):
			keys[names[keyLineRE.FindStringSubmatch(line)[1]]] = true
		case in && len(keys) > 0 && strings.TrimSpace(line) != "" && !strings.HasPrefix(strings.TrimSpace(line), "//"):
			return keys
		}
	}
	t.Fatalf("%s: no [%s] key table found", dir, group)
	return nil
}

// TestKeyTableMatchesPodman derives when each key appeared from podman's own sources: 5.4.2
// (pinned) and 5.8.2 always, 5.5.0, 5.6.0 and 5.7.0 downloaded into the module cache (as the
// generators' builds download 5.8.2). A release that cannot be had is skipped: the table must
// then name a release after the last checked one without the key, and not after the first
// checked one with it.
func TestKeyTableMatchesPodman(t *testing.T) {
	releases := []string{"5.4.2", "5.5.0", "5.6.0", "5.7.0", "5.8.2"}
	sets := map[string]map[string]bool{}
	for _, v := range releases {
		dir := podmanModule(t, v)
		if _, err := os.Stat(dir); err != nil && v != "5.4.2" && v != "5.8.2" {
			if err := downloadPodman(v); err != nil {
				t.Logf("podman %s cannot be had (%v): its keys are checked between its neighbours only", v, err)
				continue
			}
		}
		sets[v] = containerKeys(t, dir)
	}
	latest := sets["5.8.2"]
	for k := range latest {
		since, ok := quadlet.KeySince(k)
		switch {
		case deprecatedKeys[k]:
			if ok {
				t.Errorf("the model renders the deprecated key %s", k)
			}
			continue
		case !ok:
			t.Errorf("podman 5.8 key %s is missing from the model", k)
			continue
		}
		if msg := sinceMismatch(releases, sets, k, since); msg != "" {
			t.Errorf("%s: %s", k, msg)
		}
	}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[quadlet.Container]()) {
		if !latest[f.Name] {
			t.Errorf("Container.%s is no podman 5.8 key", f.Name)
		}
	}
	if n := len(reflect.VisibleFields(reflect.TypeFor[quadlet.Container]())); n != len(latest)-len(deprecatedKeys) {
		t.Errorf("the model has %d keys, podman 5.8 has %d non-deprecated ones", n, len(latest)-len(deprecatedKeys))
	}
}

// fullContainer sets every key of the model but Rootfs and ReloadSignal (which exclude Image
// and ReloadCmd).
func fullContainer() quadlet.Container {
	yes, no, n, n64 := true, false, 3, int64(100)
	return quadlet.Container{
		Image: "localhost/busybox:latest", ContainerName: "full", Exec: []string{"sleep", "1"}, Entrypoint: "/bin/sh",
		Network: []string{"bridge"}, NetworkAlias: []string{"full"}, IP: "10.88.0.9", IP6: "fd00::9",
		PublishPort: []string{"127.0.0.1:8080:80"}, ExposeHostPort: []string{"9000-9001/tcp"},
		Volume: []string{"%h/data:/data:ro", "cache:/cache"}, Mount: []string{"type=tmpfs,destination=/run/x", "type=bind,source=/srv/a,destination=/a,ro"},
		Tmpfs: []string{"/tmp:size=64m"}, Environment: map[string]string{"A": "1"}, EnvironmentFile: []string{"/etc/app.env"},
		EnvironmentHost: &no, Secret: []string{"token,type=env,target=TOKEN"}, Label: map[string]string{"a": "b"},
		Annotation: map[string]string{"c": "d"}, AddCapability: []string{"NET_BIND_SERVICE"}, DropCapability: []string{"ALL"},
		AddDevice: []string{"-/dev/fuse"}, NoNewPrivileges: true, ReadOnly: true, ReadOnlyTmpfs: &yes, RunInit: &yes,
		User: "1000", Group: "1000", GroupAdd: []string{"keep-groups"}, UserNS: "keep-id", UIDMap: []string{"0:1:1000"},
		GIDMap: []string{"0:1:1000"}, SubUIDMap: "app", SubGIDMap: "app", WorkingDir: "/srv", HostName: "full",
		AddHost: []string{"node.local:10.0.0.2"}, DNS: []string{"9.9.9.9"}, DNSOption: []string{"ndots:1"},
		DNSSearch: []string{"local"}, Pod: "test.pod", StartWithPod: &yes,
		HealthCmd: []string{"true", "x"}, HealthInterval: 30e9, HealthTimeout: 5e9, HealthStartPeriod: 1e9, HealthRetries: 3,
		HealthOnFailure: "kill", HealthLogDestination: "local", HealthMaxLogCount: &n, HealthMaxLogSize: &n,
		HealthStartupCmd: []string{"true"}, HealthStartupInterval: 2e9, HealthStartupTimeout: 2e9, HealthStartupRetries: 5,
		HealthStartupSuccess: 1, Notify: "healthy", PidsLimit: &n64, Memory: "512m", ShmSize: "64m",
		Ulimit: []string{"nofile=1024:2048"}, Sysctl: []string{"net.ipv4.ip_forward=1"}, StopTimeout: 5e9,
		StopSignal: "SIGINT", ReloadCmd: []string{"kill", "-HUP", "1"}, LogDriver: "journald", LogOpt: []string{"tag=full"},
		AutoUpdate: "registry", Pull: "never", Retry: &n, RetryDelay: 2e9, HttpProxy: &no, Timezone: "local",
		CgroupsMode: "split", SeccompProfile: "unconfined", AppArmor: "unconfined", Mask: []string{"/proc/kcore"},
		Unmask: []string{"/proc/acpi"}, SecurityLabelDisable: true, SecurityLabelNested: true, SecurityLabelType: "spc_t",
		SecurityLabelFileType: "container_file_t", SecurityLabelLevel: "s0:c1,c2", ServiceName: "full-svc",
		ContainersConfModule: []string{"/etc/containers/m.conf"}, GlobalArgs: []string{"--log-level=info"},
		PodmanArgs: []string{"--tty"},
	}
}

// TestEveryKeyGenerates renders a unit with every key, for podman 5.8 (every key written as
// itself) and for 5.4 with downgrades (without the keys that have no podman flag), and runs the
// generator of each release over it.
func TestEveryKeyGenerates(t *testing.T) {
	pod := []byte("[Pod]\n")
	full := quadlet.Unit{Container: fullContainer()}
	data, err := quadlet.Render("full", full, quadlet.Options{Target: quadlet.Latest})
	if err != nil {
		t.Fatal(err)
	}
	f := parse(t, data)
	for _, sf := range reflect.VisibleFields(reflect.TypeFor[quadlet.Container]()) {
		if !f.HasKey("Container", sf.Name) && sf.Name != "Rootfs" && sf.Name != "ReloadSignal" {
			t.Errorf("%s not rendered", sf.Name)
		}
	}
	old := full
	old.Container.ReloadCmd = nil
	downgraded, err := quadlet.Render("full", old, quadlet.Options{Target: quadlet.Podman542, Downgrade: true})
	if err != nil {
		t.Fatal(err)
	}
	for v, unit := range map[string][]byte{"5.8.2": data, "5.4.2": downgraded} {
		dir := t.TempDir()
		for name, b := range map[string][]byte{"full.container": unit, "test.pod": pod} {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		services, stderr := generateDir(t, v, dir)
		if services["full-svc"] == nil {
			t.Errorf("%s did not generate the unit with every key:\n%s\n%s", v, stderr, unit)
		}
	}
}

// TestResourceKeysMatchPodman: the .network and .volume models hold every key of podman 5.8,
// and the keys newer than 5.4.2 are refused for a 5.4 target and generate on 5.8.2.
func TestResourceKeysMatchPodman(t *testing.T) {
	old, latest := podmanModule(t, "5.4.2"), podmanModule(t, "5.8.2")
	for group, typ := range map[string]reflect.Type{"Network": reflect.TypeFor[quadlet.Network](), "Volume": reflect.TypeFor[quadlet.Volume]()} {
		keys := groupKeys(t, latest, group)
		fields := map[string]bool{}
		for _, f := range reflect.VisibleFields(typ) {
			fields[f.Name] = true
			if !keys[f.Name] {
				t.Errorf("%s.%s is no podman 5.8 key", group, f.Name)
			}
		}
		for k := range keys {
			if !fields[k] {
				t.Errorf("podman 5.8 [%s] key %s is missing from the model", group, k)
			}
		}
		t.Logf("[%s] keys newer than 5.4.2: %v", group, newer(groupKeys(t, old, group), keys))
	}
	newNet := quadlet.NetworkUnit{Network: quadlet.Network{InterfaceName: "br-x", NetworkDeleteOnStop: true}}
	if _, err := quadlet.RenderNetwork("x", newNet, quadlet.Options{Target: quadlet.Podman542}); !errors.Is(err, quadlet.ErrUnsupported) {
		t.Errorf("5.6 and 5.5 network keys for a 5.4 target: %v", err)
	}
	data, err := quadlet.RenderNetwork("x", newNet, quadlet.Options{Target: quadlet.Latest})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, quadlet.NetworkFileName("x")), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if services, stderr := generateDir(t, "5.8.2", dir); services["x-network"] == nil {
		t.Errorf("5.8.2 did not generate the network:\n%s", stderr)
	}
}

func newer(old, latest map[string]bool) []string {
	var out []string
	for k := range latest {
		if !old[k] {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// sinceMismatch says what is wrong with the table's release since for key k, given the key sets
// of the releases checked ("" when nothing is): keys of 5.4.2 must say 5.4 or older, others the
// first release checked that has the key, or, when releases between are unchecked, one after the
// last checked release without it and not after the first with it.
func sinceMismatch(releases []string, sets map[string]map[string]bool, k string, since quadlet.Version) string {
	var lacks quadlet.Version
	lacking := false
	for _, v := range releases {
		set, checked := sets[v]
		if !checked {
			continue
		}
		rel, _ := quadlet.ParseVersion(v)
		if !set[k] {
			lacks, lacking = rel, true
			continue
		}
		switch {
		case v == "5.4.2" && !quadlet.Podman542.Less(since), rel == since:
			return ""
		case lacking && lacks.Less(since) && !rel.Less(since):
			return "" // introduced in a release between, not checked here
		}
		return fmt.Sprintf("the table says podman %s, the sources first have it in %s", since, v)
	}
	return fmt.Sprintf("the table says podman %s, no release checked has it", since)
}

// downloadPodman puts podman v's module into the module cache.
func downloadPodman(v string) error {
	cmd := exec.Command("go", "mod", "download", "github.com/containers/podman/v5@v"+v)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
