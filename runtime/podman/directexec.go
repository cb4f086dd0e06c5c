//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containers/podman/v5/libpod/define"
	"github.com/containers/podman/v5/pkg/bindings"

	"github.com/skerry-dev/skerry/runtime"
)

// directChecks is the fast pass of RunHealthCheck: while podman's record of a container says
// healthy with no failure pending, the check command runs through the OCI runtime directly, as
// podman's conmon would run it, but without podman's service and conmon (a fifth of the
// session CPU of podman's exec path). A pass changes nothing podman recorded, so it is not
// recorded; anything else (a failure, a timeout, a container podman has not judged healthy,
// anything the fast pass cannot do) goes to podman's health-check call, which runs the check
// again and records it: podman keeps every verdict, its failing streak and its retries.
//
// It is used only where it runs exactly what podman would: a rootless local engine whose OCI
// runtime is crun, a daemon running inside the user's systemd manager (crun must move the check
// into the container's cgroup), nsenter on PATH, and the container podman reports for the name
// being the one in local storage.
type directChecks struct {
	once     sync.Once
	disabled bool // DisableDirectChecks, or the host does not qualify (set once)
	host     directHost

	mu    sync.Mutex
	byID  map[string]*directContainer // what podman said of a container ID, asked once
	calls int                         // direct runs started (tests)
}

// directHost is where the engine keeps what the fast pass reads, and the tools it runs.
type directHost struct {
	storage  string // containers/storage's per-container directory: <graphroot>/<driver>-containers
	runRoot  string // the same under the run root: <runroot>/<driver>-containers
	xdg      string // XDG_RUNTIME_DIR: podman's pause.pid, crun's state, the spec files
	crun     string
	nsenter  string
	inCgroup func() bool // whether this process runs inside the user's systemd manager
}

// directContainer is what podman said of one container ID; ok is false when the fast pass
// must not be used for it.
type directContainer struct {
	ok      bool
	argv    []string
	timeout time.Duration
}

// DisableDirectChecks makes RunHealthCheck always use podman's health-check call, so that
// podman records every run in the container's health log (podman inspect), at podman's cost.
// Call it before the first check.
func (r *Runtime) DisableDirectChecks() {
	r.fast.once.Do(func() { r.fast.disabled = true })
}

// directCheck runs name's check through the fast pass. It reports (healthy, true) when the
// check ran and passed, and false when RunHealthCheck must ask podman.
func (r *Runtime) directCheck(ctx context.Context, name string) (runtime.Health, bool) {
	d := &r.fast
	d.once.Do(func() { d.disabled = !r.setupDirect(ctx) })
	if d.disabled {
		return runtime.HealthUnknown, false
	}
	id, err := storageID(filepath.Join(d.host.storage, "containers.json"), name)
	if err != nil || !recordedHealthy(filepath.Join(d.host.runRoot, id, "healthcheck.log")) {
		return runtime.HealthUnknown, false
	}
	c := r.directContainer(ctx, id, name)
	if !c.ok {
		return runtime.HealthUnknown, false
	}
	switch err := d.host.run(ctx, id, c, &d.mu, &d.calls); {
	case err == nil:
		return runtime.HealthHealthy, true
	case errors.Is(err, errNotStarted): // crun could not start it here: podman's call from now on
		d.mu.Lock()
		d.byID[id] = &directContainer{}
		d.mu.Unlock()
	}
	return runtime.HealthUnknown, false
}

// setupDirect reports whether the host qualifies for the fast pass, and learns its paths.
func (r *Runtime) setupDirect(ctx context.Context) bool {
	client, err := bindings.GetClient(r.conn)
	if err != nil || client.URI == nil || client.URI.Scheme != "unix" {
		return false
	}
	var info define.Info
	err = r.call(ctx, http.MethodGet, "/info", nil, nil, &info)
	if err != nil || info.Host == nil || info.Store == nil || !info.Host.Security.Rootless ||
		info.Host.OCIRuntime == nil || info.Host.OCIRuntime.Name != "crun" {
		return false
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return false
	}
	driver := info.Store.GraphDriverName
	xdg := strings.TrimSuffix(strings.TrimPrefix(DefaultSocket(), "unix://"), "/podman/podman.sock")
	r.fast.host = directHost{
		storage:  filepath.Join(info.Store.GraphRoot, driver+"-containers"),
		runRoot:  filepath.Join(info.Store.RunRoot, driver+"-containers"),
		xdg:      xdg,
		crun:     info.Host.OCIRuntime.Path,
		nsenter:  nsenter,
		inCgroup: func() bool { return inUserManager(os.Getuid()) },
	}
	r.fast.byID = map[string]*directContainer{}
	return r.fast.host.inCgroup()
}

// directContainer returns what podman says of container id (asked once per ID: a container's
// check never changes). The fast pass is refused unless podman's container for name is id, runs
// under crun, and has a plain check (no startup check, log kept in podman's default place).
func (r *Runtime) directContainer(ctx context.Context, id, name string) *directContainer {
	d := &r.fast
	d.mu.Lock()
	c := d.byID[id]
	d.mu.Unlock()
	if c != nil {
		return c
	}
	data, err := r.inspect(ctx, name)
	if err != nil {
		return &directContainer{} // not cached: the next check asks again
	}
	c = &directContainer{}
	if hc := data.Config; data.ID == id && data.OCIRuntime == "crun" && hc != nil && hc.Healthcheck != nil &&
		hc.StartupHealthCheck == nil && (hc.HealthLogDestination == "" || hc.HealthLogDestination == "local") {
		if argv := checkArgv(hc.Healthcheck.Test); argv != nil {
			c = &directContainer{ok: true, argv: argv, timeout: hc.Healthcheck.Timeout}
		}
	}
	d.mu.Lock()
	for other := range d.byID { // forget containers that are gone
		if _, err := os.Stat(filepath.Join(d.host.storage, other)); err != nil {
			delete(d.byID, other)
		}
	}
	d.byID[id] = c
	d.mu.Unlock()
	return c
}

// errNotStarted: crun did not start the check (no pid was written).
var errNotStarted = errors.New("podman: direct check did not start")

// run runs argv in container id with the container's own process spec (user, environment,
// capabilities, seccomp, cgroup, namespaces), as conmon would: crun exec, inside podman's
// rootless user and mount namespace. A run past the check's timeout (or ctx) is killed, with
// the processes of its group.
func (h directHost) run(ctx context.Context, id string, c *directContainer, mu *sync.Mutex, calls *int) error {
	pause, err := os.ReadFile(filepath.Join(h.xdg, "libpod", "tmp", "pause.pid"))
	if err != nil {
		return err
	}
	config, err := os.ReadFile(filepath.Join(h.storage, id, "userdata", "config.json"))
	if err != nil {
		return err
	}
	process, err := execProcess(config, c.argv)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(h.xdg, "skerry-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	spec, pidFile := filepath.Join(dir, "process.json"), filepath.Join(dir, "pid")
	if err := os.WriteFile(spec, process, 0o600); err != nil {
		return err
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	cmd := exec.Command(h.nsenter, "-U", "-m", "--preserve-credentials", "-t", strings.TrimSpace(string(pause)), "--",
		h.crun, "--root", filepath.Join(h.xdg, "crun"), "exec", "--pid-file", pidFile, "--process", spec, id)
	newGroup(cmd) // the check stays in crun's group unless crun gives it one: both are killed
	mu.Lock()
	*calls++
	mu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		killCheck(pidFile)
		killGroup(cmd.Process.Pid)
		<-done
		return ctx.Err()
	}
	if _, statErr := os.Stat(pidFile); err != nil && statErr != nil {
		return errNotStarted
	}
	return err
}

// killCheck kills the check and its process group (a check's shell and what it started), by the
// pid crun wrote.
func killCheck(pidFile string) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
		killGroup(pid)
	}
}

// inUserManager reports whether this process runs in a cgroup under the user's systemd manager
// (user@UID.service), where crun may move the check into the container's cgroup.
func inUserManager(uid int) bool {
	b, err := os.ReadFile("/proc/self/cgroup")
	return err == nil && bytes.Contains(b, []byte("/user@"+strconv.Itoa(uid)+".service/"))
}

// storageID returns the ID of the container named name in containers/storage's containers.json.
func storageID(file, name string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	var list []struct {
		ID    string   `json:"id"`
		Names []string `json:"names"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return "", err
	}
	for _, c := range list {
		for _, n := range c.Names {
			if n == name {
				return c.ID, nil
			}
		}
	}
	return "", runtime.ErrNotFound
}

// recordedHealthy reports whether podman's health log at file says healthy with no failure
// pending: only then may a pass go unrecorded.
func recordedHealthy(file string) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	var log struct {
		Status        string
		FailingStreak int
	}
	return json.Unmarshal(b, &log) == nil && passNeedsNoRecord(log.Status, log.FailingStreak)
}
