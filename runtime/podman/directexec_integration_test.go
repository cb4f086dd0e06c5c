//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"

	"github.com/skerry-dev/skerry/runtime"
)

// checkedSpec is a container whose check passes only as the container's user (1234), with its
// environment (FOO=bar) and filesystem (/www/index.html), fails while /tmp/fail exists, and
// hangs (two sleeps: the check's shell and a child) while /tmp/hang exists.
func checkedSpec(name string) runtime.ContainerSpec {
	cs := webSpec(name, 0)
	cs.Ports, cs.Mounts = nil, nil
	cs.User, cs.Env = "1234:5678", map[string]string{"FOO": "bar"}
	cs.HealthCheck = &runtime.HealthCheck{Command: []string{"sh", "-c",
		`test "$(id -u)" = 1234 && test "$FOO" = bar && test -f /www/index.html && test ! -e /tmp/fail && ` +
			`{ test ! -e /tmp/hang || { sleep 301 & sleep 302; }; }`},
		Timeout: 2 * time.Second, Retries: 3}
	return cs
}

func startChecked(t *testing.T, r *Runtime) string {
	t.Helper()
	ctx := context.Background()
	name := uniq("directexec")
	cleanup(t, r, name)
	if err := r.Create(ctx, checkedSpec(name)); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	return name
}

// healthLog returns podman's record of name's checks: status, failing streak, entries.
func healthLog(t *testing.T, r *Runtime, name string) (string, int, int) {
	t.Helper()
	data, err := containers.Inspect(r.with(context.Background()), name, nil)
	if err != nil || data.State == nil || data.State.Health == nil {
		t.Fatalf("inspect %s: %v", name, err)
	}
	h := data.State.Health
	return h.Status, h.FailingStreak, len(h.Log)
}

func inContainer(t *testing.T, name string, argv ...string) string {
	t.Helper()
	out, err := exec.Command("podman", append([]string{"exec", "--user", "0", name}, argv...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("podman exec %s %v: %v: %s", name, argv, err, out)
	}
	return string(out)
}

func check(t *testing.T, r *Runtime, name string, want runtime.Health, wantCalls int, wantStatus string, wantStreak, wantLog int) {
	t.Helper()
	h, err := r.RunHealthCheck(context.Background(), name)
	if err != nil || h != want {
		t.Fatalf("RunHealthCheck = %v, %v; want %v", h, err, want)
	}
	if r.fast.calls != wantCalls {
		t.Errorf("direct runs = %d, want %d", r.fast.calls, wantCalls)
	}
	if status, streak, n := healthLog(t, r, name); status != wantStatus || streak != wantStreak || n != wantLog {
		t.Errorf("podman's record: %s, streak %d, %d entries; want %s, %d, %d", status, streak, n, wantStatus, wantStreak, wantLog)
	}
}

// inScope runs the test again in a transient scope of the user's systemd manager (where a node
// daemon runs, and where crun may move a check into the container's cgroup), once. It reports
// whether the test ran there (the caller returns) rather than here.
func inScope(t *testing.T) bool {
	t.Helper()
	if inUserManager(os.Getuid()) {
		return false
	}
	if os.Getenv("SKERRY_TEST_IN_SCOPE") != "" {
		t.Fatal("the transient scope is not under the user's manager")
	}
	cmd := exec.Command("systemd-run", "--user", "--scope", "--quiet", "--collect", "--setenv=SKERRY_TEST_IN_SCOPE=1",
		os.Args[0], "-test.run", "^"+t.Name()+"$", "-test.v")
	cmd.Env = append(os.Environ(), "SKERRY_TEST_IN_SCOPE=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in a user scope:\n%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("in a user scope: %v", err)
	}
	return true
}

// A pass while podman says healthy runs without podman's service and is not recorded; every
// other run goes to podman, which records it with its streak and retries (podman's call reports
// the run's own result: unhealthy for a failed run, while its record stays healthy until Retries).
func TestDirectChecks(t *testing.T) {
	if inScope(t) {
		return
	}
	r := connect(t)
	name := startChecked(t, r)
	check(t, r, name, runtime.HealthHealthy, 0, "healthy", 0, 1)   // starting: podman runs it
	check(t, r, name, runtime.HealthHealthy, 1, "healthy", 0, 1)   // healthy: direct, as user 1234, env, files
	check(t, r, name, runtime.HealthHealthy, 2, "healthy", 0, 1)   // again
	inContainer(t, name, "touch", "/tmp/fail")                     //
	check(t, r, name, runtime.HealthUnhealthy, 3, "healthy", 1, 2) // direct fails: podman runs and records it
	check(t, r, name, runtime.HealthUnhealthy, 3, "healthy", 2, 3) // a failure pending: podman only
	inContainer(t, name, "rm", "/tmp/fail")                        //
	check(t, r, name, runtime.HealthHealthy, 3, "healthy", 0, 4)   // podman records the pass (streak reset)
	check(t, r, name, runtime.HealthHealthy, 4, "healthy", 0, 4)   // direct again
	if _, err := r.RunHealthCheck(context.Background(), "no-such-container"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("RunHealthCheck of a missing container: %v, want ErrNotFound", err)
	}

	// A run past the check's timeout is killed with what it started, and reported as not passed.
	inContainer(t, name, "touch", "/tmp/hang")
	id, _ := storageID(r.fast.host.storage+"/containers.json", name)
	c := r.directContainer(context.Background(), id, name)
	start := time.Now()
	err := r.fast.host.run(context.Background(), id, c, &r.fast.mu, &r.fast.calls)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 4*time.Second {
		t.Errorf("a hanging check: %v after %v, want the deadline after its 2 s timeout", err, time.Since(start))
	}
	time.Sleep(200 * time.Millisecond)
	if ps := inContainer(t, name, "ps", "-o", "args"); strings.Contains(ps, "sleep 30") {
		t.Errorf("the timed-out check left processes in the container:\n%s", ps)
	}
	inContainer(t, name, "rm", "/tmp/hang")
	if err := r.fast.host.run(context.Background(), id, c, &r.fast.mu, &r.fast.calls); err != nil {
		t.Errorf("a passing check after the timeout: %v", err)
	}
	if entries, _ := os.ReadDir(r.fast.host.xdg); func() bool {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "skerry-check-") {
				return true
			}
		}
		return false
	}() {
		t.Error("a check's spec directory was left in XDG_RUNTIME_DIR")
	}

	// The container renamed: its name's checks are podman's (no such container), the new name's
	// direct again.
	if err := r.Rename(context.Background(), name, name+"-old"); err != nil {
		t.Fatal(err)
	}
	cleanup(t, r, name+"-old")
	calls := r.fast.calls
	if _, err := r.RunHealthCheck(context.Background(), name); !errors.Is(err, runtime.ErrNotFound) || r.fast.calls != calls {
		t.Errorf("RunHealthCheck of the old name: %v, %d direct runs (want ErrNotFound, none)", err, r.fast.calls-calls)
	}
	check(t, r, name+"-old", runtime.HealthHealthy, calls+1, "healthy", 0, 4)
}

// Without the fast pass (turned off, or the daemon outside the user's manager), every check is
// podman's and is recorded.
func TestDirectChecksFallBackToPodman(t *testing.T) {
	r := connect(t)
	r.DisableDirectChecks()
	name := startChecked(t, r)
	check(t, r, name, runtime.HealthHealthy, 0, "healthy", 0, 1)
	check(t, r, name, runtime.HealthHealthy, 0, "healthy", 0, 2)
	if inUserManager(os.Getuid()) {
		return // the rest needs a process outside the user's manager
	}
	r = connect(t)
	check(t, r, name, runtime.HealthHealthy, 0, "healthy", 0, 3)
	if !r.fast.disabled {
		t.Error("the fast pass is on outside the user's manager")
	}
}
