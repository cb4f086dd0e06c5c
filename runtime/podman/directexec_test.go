//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"
)

func TestCheckArgv(t *testing.T) {
	for _, tc := range []struct {
		test, want []string
	}{
		{nil, nil},
		{[]string{"NONE"}, nil},
		{[]string{""}, nil},
		{[]string{"CMD"}, nil},
		{[]string{"CMD", ""}, nil},
		{[]string{"CMD", "wget", "-q", "http://x/"}, []string{"wget", "-q", "http://x/"}},
		{[]string{"CMD-SHELL", "test -f /a", "&& true"}, []string{"/bin/sh", "-c", "test -f /a && true"}},
		{[]string{"wget", "-q"}, []string{"wget", "-q"}},
	} {
		if diff := cmp.Diff(tc.want, checkArgv(tc.test)); diff != "" {
			t.Errorf("checkArgv(%q) (-want +got):\n%s", tc.test, diff)
		}
	}
}

func TestExecProcessKeepsTheContainersProcess(t *testing.T) {
	config := []byte(`{"ociVersion":"1.2.0","process":{"terminal":true,"consoleSize":{"height":1,"width":2},
		"user":{"uid":1234,"gid":5678,"additionalGids":[5678]},"args":["httpd","-f"],"env":["FOO=bar","HOME=/"],"cwd":"/srv",
		"capabilities":{"bounding":["CAP_NET_BIND_SERVICE"]},"noNewPrivileges":true,"futureField":{"x":1}},"root":{"path":"/r"}}`)
	got, err := execProcess(config, []string{"sh", "-c", "exit 7"})
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(got, &p); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"terminal": false, "user": map[string]any{"uid": 1234.0, "gid": 5678.0, "additionalGids": []any{5678.0}},
		"args": []any{"sh", "-c", "exit 7"}, "env": []any{"FOO=bar", "HOME=/"}, "cwd": "/srv",
		"capabilities": map[string]any{"bounding": []any{"CAP_NET_BIND_SERVICE"}}, "noNewPrivileges": true, "futureField": map[string]any{"x": 1.0}}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("execProcess (-want +got):\n%s", diff)
	}
	for _, bad := range []string{`{}`, `{"process":null}`, `not json`} {
		if _, err := execProcess([]byte(bad), []string{"true"}); err == nil {
			t.Errorf("execProcess(%s): no error", bad)
		}
	}
	if _, err := execProcess(config, nil); err == nil {
		t.Error("execProcess without a command: no error")
	}
}

// The process spec of an exec differs from the container's only in its command and terminal.
func TestExecProcessChangesOnlyArgsAndTerminal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		env := rapid.SliceOf(rapid.StringMatching(`[A-Z]{1,4}=[a-z]{0,4}`)).Draw(t, "env")
		argv := rapid.SliceOfN(rapid.String(), 1, 5).Draw(t, "argv")
		uid := rapid.Uint32().Draw(t, "uid")
		config, _ := json.Marshal(map[string]any{"process": map[string]any{"env": env, "args": []string{"init"},
			"user": map[string]any{"uid": uid}, "terminal": rapid.Bool().Draw(t, "terminal")}})
		got, err := execProcess(config, argv)
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			Env      []string
			Args     []string
			Terminal bool
			User     struct{ UID uint32 }
		}
		if err := json.Unmarshal(got, &p); err != nil {
			t.Fatal(err)
		}
		if p.Terminal || p.User.UID != uid || !cmp.Equal(p.Args, argv) || !cmp.Equal(p.Env, env, cmpopts.EquateEmpty()) {
			t.Fatalf("execProcess: %s", got)
		}
	})
}

func TestPassNeedsNoRecord(t *testing.T) {
	for _, tc := range []struct {
		status string
		streak int
		want   bool
	}{
		{"healthy", 0, true},
		{"healthy", 1, false},
		{"starting", 0, false},
		{"unhealthy", 0, false},
		{"", 0, false},
	} {
		if got := passNeedsNoRecord(tc.status, tc.streak); got != tc.want {
			t.Errorf("passNeedsNoRecord(%q, %d) = %v, want %v", tc.status, tc.streak, got, tc.want)
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		status, streak := rapid.SampledFrom([]string{"healthy", "starting", "unhealthy", ""}).Draw(t, "status"), rapid.IntRange(0, 10).Draw(t, "streak")
		if passNeedsNoRecord(status, streak) && (status != "healthy" || streak != 0) {
			t.Fatalf("a pass over %q with streak %d would go unrecorded", status, streak)
		}
	})
}

func TestStorageIDAndRecordedHealthy(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "containers.json")
	os.WriteFile(list, []byte(`[{"id":"aaa","names":["web"]},{"id":"bbb","names":["db","db-old"]}]`), 0o600)
	for name, want := range map[string]string{"web": "aaa", "db-old": "bbb", "nope": ""} {
		if got, _ := storageID(list, name); got != want {
			t.Errorf("storageID(%q) = %q, want %q", name, got, want)
		}
	}
	if _, err := storageID(filepath.Join(dir, "missing.json"), "web"); err == nil {
		t.Error("storageID of a missing file: no error")
	}
	log := filepath.Join(dir, "healthcheck.log")
	for content, want := range map[string]bool{
		`{"Status":"healthy","FailingStreak":0,"Log":[]}`:   true,
		`{"Status":"healthy","FailingStreak":2,"Log":[]}`:   false,
		`{"Status":"starting","FailingStreak":0,"Log":[]}`:  false,
		`{"Status":"unhealthy","FailingStreak":3,"Log":[]}`: false,
		`garbage`: false,
	} {
		os.WriteFile(log, []byte(content), 0o600)
		if got := recordedHealthy(log); got != want {
			t.Errorf("recordedHealthy(%s) = %v, want %v", content, got, want)
		}
	}
	if recordedHealthy(filepath.Join(dir, "none.log")) {
		t.Error("recordedHealthy of a missing log: true")
	}
}
