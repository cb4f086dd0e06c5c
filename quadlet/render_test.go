package quadlet_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skerry-dev/skerry/quadlet"
)

// companionUnit is what a bitcoin UI companion looks like: bridge network, one published port,
// a read-only config bind mount, dropped capabilities, a health check that gates start-up.
func companionUnit() quadlet.Unit {
	pids := int64(256)
	return quadlet.Unit{
		Description:        "bitcoind web UI (skerry companion)",
		After:              []string{"network-online.target"},
		StartLimitBurst:    5,
		StartLimitInterval: 10 * time.Minute,
		Container: quadlet.Container{
			Image:           "localhost/btc-ui:1.2",
			ContainerName:   "bitcoind-ui",
			Exec:            []string{"httpd", "-f", "-p", "3002", "-h", "/www"},
			Network:         []string{"bridge"},
			PublishPort:     []string{"127.0.0.1:3002:3002/tcp"},
			Volume:          []string{"/srv/skerry/bitcoind/nginx.conf:/etc/nginx.conf:ro"},
			Environment:     map[string]string{"RPC_USER": "ui", "RPC_PASSWORD": "p@ss w0rd"},
			Label:           map[string]string{"io.skerry.companion": "bitcoind-ui"},
			DropCapability:  []string{"ALL"},
			AddCapability:   []string{"NET_BIND_SERVICE"},
			NoNewPrivileges: true,
			ReadOnly:        true,
			HealthCmd:       []string{"wget", "-q", "-O-", "http://127.0.0.1:3002/"},
			HealthInterval:  10 * time.Second,
			HealthTimeout:   5 * time.Second,
			HealthRetries:   3,
			Notify:          "healthy",
			PidsLimit:       &pids,
			StopTimeout:     1500 * time.Millisecond,
		},
		Service:  quadlet.Service{Restart: "always", RestartSec: 10 * time.Second, TimeoutStartSec: 5 * time.Minute, TimeoutStopSec: 20 * time.Second},
		WantedBy: []string{"default.target"},
	}
}

const companionGolden = `# Rendered by skerry; manual changes are overwritten.
[Unit]
Description=bitcoind web UI (skerry companion)
After=network-online.target
StartLimitBurst=5
StartLimitIntervalSec=600

[Container]
Image=localhost/btc-ui:1.2
ContainerName=bitcoind-ui
Exec="httpd" "-f" "-p" "3002" "-h" "/www"
Network=bridge
PublishPort=127.0.0.1:3002:3002/tcp
Volume=/srv/skerry/bitcoind/nginx.conf:/etc/nginx.conf:ro
Environment="RPC_PASSWORD=p@ss w0rd"
Environment="RPC_USER=ui"
Label="io.skerry.companion=bitcoind-ui"
AddCapability=NET_BIND_SERVICE
DropCapability=ALL
NoNewPrivileges=true
ReadOnly=true
HealthCmd=["wget","-q","-O-","http://127.0.0.1:3002/"]
HealthInterval=10s
HealthTimeout=5s
HealthRetries=3
Notify=healthy
PidsLimit=256
StopTimeout=2

[Service]
Restart=always
RestartSec=10
TimeoutStartSec=300
TimeoutStopSec=20

[Install]
WantedBy=default.target
`

func TestRenderCompanionGolden(t *testing.T) {
	got, err := quadlet.Render("bitcoind-ui", companionUnit(), quadlet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != companionGolden {
		t.Fatalf("rendered:\n%s\nwant:\n%s", got, companionGolden)
	}
}

func TestRenderHostNetwork(t *testing.T) {
	u := quadlet.Unit{Container: quadlet.Container{Image: "localhost/electrs-ui:3", Network: []string{"host"}}}
	got, err := quadlet.Render("electrs-ui", u, quadlet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := "# Rendered by skerry; manual changes are overwritten.\n[Container]\nImage=localhost/electrs-ui:3\nNetwork=host\n"
	if string(got) != want {
		t.Fatalf("got %q", got)
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	u := companionUnit()
	u.Container.Environment = map[string]string{}
	for i := range 50 {
		u.Container.Environment[fmt.Sprintf("K%02d", i)] = fmt.Sprint(i)
	}
	first, err := quadlet.Render("x", u, quadlet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		again, _ := quadlet.Render("x", u, quadlet.Options{})
		if string(again) != string(first) {
			t.Fatal("two renders of one unit differ")
		}
	}
}

func TestRenderEscapesSpecifiers(t *testing.T) {
	u := quadlet.Unit{Description: "100% up", Container: quadlet.Container{
		Image: "localhost/x:1", Exec: []string{"echo", "$HOME", "%h", `a"b\c`},
		Environment: map[string]string{"PRICE": "$5 at 10%"}}}
	got, err := quadlet.Render("x", u, quadlet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Description=100%% up", `Exec="echo" "$$HOME" "%%h" "a\"b\\c"`, `Environment="PRICE=$$5 at 10%%"`} {
		if !strings.Contains(string(got), want+"\n") {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

func TestRenderRefusesInjection(t *testing.T) {
	for _, tc := range []struct {
		key string
		mut func(*quadlet.Unit)
	}{
		{"Image", func(u *quadlet.Unit) { u.Container.Image = "busybox\n[Service]\nExecStartPre=/bin/rm -rf /" }},
		{"Description", func(u *quadlet.Unit) { u.Description = "x\rInjected=1" }},
		{"Exec[1]", func(u *quadlet.Unit) { u.Container.Exec = []string{"sh", "a\x00b"} }},
		{"Environment[PASS]", func(u *quadlet.Unit) {
			u.Container.Environment = map[string]string{"PASS": "hunter2\x00ExecStart=/evil"}
		}},
		{`Environment["A B"]`, func(u *quadlet.Unit) { u.Container.Environment = map[string]string{"A B": "x"} }},
		{"User", func(u *quadlet.Unit) { u.Container.User = `app\` }},
		{"User", func(u *quadlet.Unit) { u.Container.User = `"app"` }},
		{"User", func(u *quadlet.Unit) { u.Container.User = " app" }},
		{"Volume[0]", func(u *quadlet.Unit) { u.Container.Volume = []string{""} }},
		{"PublishPort[0]", func(u *quadlet.Unit) { u.Container.PublishPort = []string{"80:80\\"} }},
		{"ContainerName", func(u *quadlet.Unit) { u.Container.ContainerName = "../etc" }},
		{"AddCapability[0]", func(u *quadlet.Unit) { u.Container.AddCapability = []string{"NET_ADMIN SYS_ADMIN"} }},
		{"After[0]", func(u *quadlet.Unit) { u.After = []string{"a.service b.service"} }},
		{"WantedBy[0]", func(u *quadlet.Unit) { u.WantedBy = []string{"../default.target"} }},
		{"Restart", func(u *quadlet.Unit) { u.Service.Restart = "sometimes" }},
		{"Notify", func(u *quadlet.Unit) { u.Container.Notify = "yes" }},
		{"Image", func(u *quadlet.Unit) { u.Container.Image = "" }},
	} {
		u := quadlet.Unit{Container: quadlet.Container{Image: "localhost/x:1"}}
		tc.mut(&u)
		out, err := quadlet.Render("x", u, quadlet.Options{})
		var qerr *quadlet.Error
		if !errors.Is(err, quadlet.ErrInvalid) || !errors.As(err, &qerr) || out != nil {
			t.Errorf("%s: err = %v, out = %q", tc.key, err, out)
			continue
		}
		found := false
		for _, p := range qerr.Problems {
			found = found || p.Key == tc.key
		}
		if !found {
			t.Errorf("%s: problems %v do not name the key", tc.key, qerr.Problems)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error leaks an environment value: %v", tc.key, err)
		}
	}
}

// A word carries newlines and other C0 controls as C escapes: no key is injected, and the
// parser reads the value back.
func TestRenderEscapesControlsInWords(t *testing.T) {
	u := quadlet.Unit{Container: quadlet.Container{Image: "localhost/x:1", Exec: []string{"printf", "a\nb\tc\x1b"},
		Environment: map[string]string{"PASS": "hunter2\nExecStart=/evil"}}}
	got, err := quadlet.Render("x", u, quadlet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`Exec="printf" "a\nb\tc\x1b"`, `Environment="PASS=hunter2\nExecStart=/evil"`} {
		if !strings.Contains(string(got), want+"\n") {
			t.Errorf("missing %s in:\n%s", want, got)
		}
	}
	checkRoundTrip(t, u, got)
}

func TestRenderRefusesBadNames(t *testing.T) {
	for _, name := range []string{"", "a/b", "../x", "x.container", ".hidden", strings.Repeat("a", 201), "a b"} {
		if _, err := quadlet.Render(name, quadlet.Unit{Container: quadlet.Container{Image: "x"}}, quadlet.Options{}); !errors.Is(err, quadlet.ErrInvalid) {
			t.Errorf("name %q: err = %v", name, err)
		}
	}
}

func TestVersionGating(t *testing.T) {
	u := quadlet.Unit{Container: quadlet.Container{Image: "localhost/x:1", Memory: "512m", StopSignal: "SIGINT",
		AddHost: []string{"node.local:10.0.0.2"}, NetworkAlias: []string{"ui"}}}
	_, err := quadlet.Render("x", u, quadlet.Options{Target: quadlet.Version{Major: 5, Minor: 1}})
	var qerr *quadlet.Error
	if !errors.Is(err, quadlet.ErrUnsupported) || !errors.As(err, &qerr) || len(qerr.Problems) != 4 {
		t.Fatalf("target 5.1: err = %v, want 4 unsupported keys", err)
	}
	out, err := quadlet.Render("x", u, quadlet.Options{Target: quadlet.Podman542, Downgrade: true})
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{"StopSignal=SIGINT\n", "AddHost=node.local:10.0.0.2\n", "NetworkAlias=ui\n", `PodmanArgs="--memory=512m"` + "\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("target 5.4 with downgrade lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "Memory=") {
		t.Errorf("Memory= rendered for 5.4:\n%s", s)
	}
	out, err = quadlet.Render("x", u, quadlet.Options{Target: quadlet.Latest})
	if err != nil || !strings.Contains(string(out), "Memory=512m\n") {
		t.Fatalf("target 5.8: %v\n%s", err, out)
	}
	if _, err := quadlet.Render("x", u, quadlet.Options{Target: quadlet.Version{Major: 4, Minor: 9}}); !errors.Is(err, quadlet.ErrInvalid) {
		t.Fatalf("target 4.9 accepted: %v", err)
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]quadlet.Version{"5.4.2": {5, 4}, "v5.8": {5, 8}, "5.10.0-rc1": {5, 10}} {
		if got, err := quadlet.ParseVersion(in); err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "5", "x.y", "5.-1"} {
		if _, err := quadlet.ParseVersion(in); err == nil {
			t.Errorf("ParseVersion(%q) accepted", in)
		}
	}
	if !(quadlet.Version{5, 4}).Less(quadlet.Version{5, 10}) {
		t.Error("5.4 < 5.10")
	}
}

func TestWriteIfChanged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, quadlet.FileName("bitcoind-ui"))
	data, _ := quadlet.Render("bitcoind-ui", companionUnit(), quadlet.Options{})
	for i, want := range []bool{true, false} {
		changed, err := quadlet.WriteIfChanged(path, data, 0o644)
		if err != nil || changed != want {
			t.Fatalf("write %d: changed=%v err=%v", i, changed, err)
		}
	}
	if removed, err := quadlet.Remove(path); !removed || err != nil {
		t.Fatalf("remove: %v %v", removed, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("file still there")
	}
}

func ExampleRender() {
	out, err := quadlet.Render("lnd-ui", quadlet.Unit{
		Container: quadlet.Container{
			Image:       "localhost/lnd-ui:0.9",
			Network:     []string{"host"},
			Environment: map[string]string{"LND_REST": "https://127.0.0.1:8080"},
			HealthCmd:   []string{"wget", "-q", "http://127.0.0.1:3004/"},
			Notify:      "healthy",
		},
		Service:  quadlet.Service{Restart: "always", RestartSec: 10 * time.Second},
		WantedBy: []string{"default.target"},
	}, quadlet.Options{Target: quadlet.Podman542})
	fmt.Print(string(out), err)
	// Output:
	// # Rendered by skerry; manual changes are overwritten.
	// [Container]
	// Image=localhost/lnd-ui:0.9
	// Network=host
	// Environment="LND_REST=https://127.0.0.1:8080"
	// HealthCmd=["wget","-q","http://127.0.0.1:3004/"]
	// Notify=healthy
	//
	// [Service]
	// Restart=always
	// RestartSec=10
	//
	// [Install]
	// WantedBy=default.target
	// <nil>
}
