//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package fault_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/skerry-dev/skerry/companion"
	"github.com/skerry-dev/skerry/runtime"
)

// sh runs a command on the node (as the test's user) and returns its combined output.
func sh(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return strings.TrimSpace(string(out)), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

func userctl(args ...string) (string, error) {
	return sh("systemctl", append([]string{"--user"}, args...)...)
}

func unitDir() string { return filepath.Join(os.Getenv("HOME"), ".config", "containers", "systemd") }

// ctr is a container as `podman ps -a --format json` lists it.
type ctr struct {
	ID       string            `json:"Id"`
	Names    []string          `json:"Names"`
	State    string            `json:"State"`
	Labels   map[string]string `json:"Labels"`
	Networks []string          `json:"Networks"`
}

func (c ctr) named(n string) bool { return slices.Contains(c.Names, n) }

// onNet says, for a violation, whether c is attached to the node's network.
func (c ctr) onNet() bool { return slices.Contains(c.Networks, netName) }

func containers() ([]ctr, error) {
	out, err := sh("podman", "ps", "-a", "--format", "json")
	if err != nil {
		return nil, err
	}
	var cs []ctr
	return cs, json.Unmarshal([]byte(out), &cs)
}

// want is the state the node must be in after a fault and the recovery from it.
type want struct {
	installed bool
	release   string // the apps' release (the last good one)
	uiRelease string
	password  string // the full password in btc's config; "" accepts any well-formed one
	// held: the apps' desired release failed; they may carry the record of it (<app>.FAILED).
	held    bool
	markers map[string]string
	// netUser is a container the test attached to netName by hand: while it exists, an
	// uninstalled btc's network must be kept (podman refuses to remove a network in use).
	netUser string
}

var (
	confRE   = regexp.MustCompile(`\Arpcuser=ui\nrpcpassword=[a-z0-9-]+\n\z`)
	checkRE  = regexp.MustCompile(`\A([0-9a-f]{64})-[0-9a-f]+\.(timer|service)\z`)
	volumeOf = func(app string) string { return app + "-data" }
)

// checkNode returns every invariant the node violates, one sentence each.
func checkNode(w want) []string {
	var v []string
	bad := func(format string, args ...any) { v = append(v, fmt.Sprintf(format, args...)) }
	cs, err := containers()
	if err != nil {
		return []string{"cannot list containers: " + err.Error()}
	}
	running, known := map[string]bool{}, map[string]string{}
	for _, c := range cs {
		running[c.ID] = c.State == "running"
		known[c.ID] = fmt.Sprintf("%v %s", c.Names, c.State)
	}
	for _, app := range apps {
		// The app's container, and the records of an upgrade (orchestrator/release.go):
		// <app>.PREV while one is under way, <app>.FAILED while the app is held.
		var mine []ctr
		var others []string
		for _, c := range cs {
			switch {
			case c.named(app):
				mine = append(mine, c)
			case c.named(app+".FAILED") && w.held && w.installed && c.State != "running":
			case c.Labels[runtime.LabelApp] == app || c.named(app+".PREV") || c.named(app+".FAILED"):
				others = append(others, fmt.Sprintf("%v (%s)", c.Names, c.State))
			}
		}
		if len(others) > 0 {
			bad("%s: stray containers %v", app, others)
		}
		if !w.installed {
			if len(mine) > 0 {
				bad("%s: uninstalled, but its container remains (%s)", app, mine[0].State)
			}
		} else if len(mine) != 1 {
			bad("%s: %d containers, want exactly 1", app, len(mine))
		} else if mine[0].State != "running" {
			bad("%s: container %s, want running", app, mine[0].State)
		} else {
			if rel := envOf(app, "RELEASE"); rel != w.release {
				bad("%s: on release %q, want %q (the last good one)", app, rel, w.release)
			}
			if _, err := sh("podman", "healthcheck", "run", app); err != nil {
				bad("%s: not healthy: %v", app, err)
			}
			if !mine[0].onNet() {
				bad("%s: container on networks %v, want on %s", app, mine[0].Networks, netName)
			}
		}
		if m := w.markers[app]; m != "" {
			mp, err := sh("podman", "volume", "inspect", "--format", "{{.Mountpoint}}", volumeOf(app))
			got, rerr := os.ReadFile(filepath.Join(mp, "marker"))
			if err != nil || rerr != nil || strings.TrimSpace(string(got)) != m {
				bad("%s: volume data lost: marker %q (%v %v), want %q", app, got, err, rerr, m)
			}
		}
	}
	if cv := checkCompanion(w, cs); len(cv) > 0 {
		// The companion's unit tells why (issue of run f565db7: a stop that hung).
		cv[len(cv)-1] += "\n" + unitDiagnosis(uiUnit)
		v = append(v, cv...)
	}
	v = append(v, checkNetworks(w, cs)...)
	v = append(v, checkRendered(w)...)
	// Units: nothing of an uninstalled companion, no health-check timer or service of a
	// container that is not running.
	out, err := userctl("list-units", "--all", "--plain", "--no-legend", "--no-pager")
	if err != nil {
		return append(v, err.Error())
	}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 4 {
			continue
		}
		unit := f[0]
		if m := checkRE.FindStringSubmatch(unit); m != nil && !running[m[1]] && f[2] != "inactive" {
			of := known[m[1]]
			if of == "" {
				of = "gone"
			}
			bad("stray health-check unit %s (%s %s) of a container that is not running (%s)", unit, f[2], f[3], of)
		}
		if strings.Contains(unit, "fault-") && (unit != uiUnit || !w.installed) {
			bad("stray unit %s (%s %s)", unit, f[2], f[3])
		}
	}
	return v
}

// checkCompanion checks btc's companion: under systemd, active, on the wanted release, with one
// complete unit file, when installed; no trace of it otherwise.
func checkCompanion(w want, cs []ctr) []string {
	var v []string
	bad := func(format string, args ...any) { v = append(v, fmt.Sprintf(format, args...)) }
	var mine []ctr
	for _, c := range cs {
		if c.named(uiName) || c.Labels[companion.LabelCompanionOf] == btcApp {
			mine = append(mine, c)
		}
	}
	entries, _ := os.ReadDir(unitDir())
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	st, _ := userctl("show", "-p", "ActiveState", "--value", uiUnit)
	if !w.installed {
		if len(mine) > 0 {
			bad("companion of uninstalled %s: container(s) remain: %v", btcApp, mine)
		}
		if len(files) > 0 {
			bad("companion of uninstalled %s: unit directory holds %v", btcApp, files)
		}
		if st != "inactive" {
			bad("companion of uninstalled %s: %s is %s", btcApp, uiUnit, st)
		}
		return v
	}
	if st != "active" {
		bad("companion %s is %q, want active", uiUnit, st)
	}
	if !slices.Equal(files, []string{uiName + ".container"}) {
		bad("unit directory holds %v, want only %s.container", files, uiName)
	}
	if msg := unitFileProblem(); msg != "" {
		bad("%s", msg)
	}
	if len(mine) != 1 || mine[0].State != "running" {
		bad("companion: %d containers (%v), want 1 running", len(mine), mine)
		return v
	}
	if rel := envOf(uiName, "RELEASE"); rel != w.uiRelease {
		bad("companion on release %q, want %q", rel, w.uiRelease)
	}
	if !mine[0].onNet() {
		bad("companion on networks %v, want on %s", mine[0].Networks, netName)
	} else if out, err := sh("podman", "exec", uiName, "wget", "-q", "-O-", fmt.Sprintf("http://%s:18432/", btcApp)); err != nil {
		bad("companion cannot reach %s by name on %s: %v (%s)", btcApp, netName, err, out)
	}
	return v
}

// unitDiagnosis is what systemd says of unit: its status and its journal's tail, indented.
func unitDiagnosis(unit string) string {
	status, _ := userctl("status", "--no-pager", "--lines=0", unit)
	journal, err := sh("journalctl", "--user", "--unit", unit, "--lines=30", "--no-pager", "--output=short-precise")
	if err != nil {
		journal = err.Error()
	}
	out := "systemctl --user status " + unit + ":\n" + status + "\njournalctl --user -u " + unit + ":\n" + journal
	return "\t" + strings.ReplaceAll(out, "\n", "\n\t")
}

// unitFileProblem says what is wrong with the companion's unit file if it exists: empty,
// partial or not the good image.
func unitFileProblem() string {
	b, err := os.ReadFile(filepath.Join(unitDir(), uiName+".container"))
	if os.IsNotExist(err) {
		return ""
	}
	s := string(b)
	if err != nil || !strings.Contains(s, "[Container]") || !strings.Contains(s, "Image="+goodImage+"\n") ||
		!strings.Contains(s, "[Install]") || !strings.HasSuffix(s, "\n") {
		return fmt.Sprintf("companion unit file incomplete or not on %s (%v): %q", goodImage, err, s)
	}
	return ""
}

// checkRendered checks btc's rendered config: complete when present (required when installed),
// the wanted password when known, what the container sees, and no temp file beside it.
func checkRendered(w want) []string {
	var v []string
	b, err := os.ReadFile(confPath())
	switch {
	case os.IsNotExist(err) && !w.installed:
	case err != nil:
		v = append(v, fmt.Sprintf("rendered config: %v", err))
	case !confRE.Match(b):
		v = append(v, fmt.Sprintf("rendered config incomplete: %q", b))
	case w.password != "" && string(b) != "rpcuser=ui\nrpcpassword="+w.password+"\n":
		v = append(v, "rendered config does not hold the current password")
	case w.installed:
		if in, err := sh("podman", "exec", btcApp, "cat", "/etc/bitcoin/bitcoin.conf"); err != nil || in+"\n" != string(b) {
			v = append(v, fmt.Sprintf("%s sees another config than the rendered one (%v)", btcApp, err))
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(confPath()))
	for _, e := range entries {
		if e.Name() != filepath.Base(confPath()) {
			v = append(v, "stray file beside the rendered config: "+e.Name())
		}
	}
	return v
}

// afterKill checks what a SIGKILL may leave on disk: files complete or absent, never partial.
func afterKill() []string {
	var v []string
	if b, err := os.ReadFile(confPath()); err == nil && !confRE.Match(b) {
		v = append(v, fmt.Sprintf("after the kill, the rendered config is partial: %q", b))
	}
	if msg := unitFileProblem(); msg != "" {
		v = append(v, "after the kill: "+msg)
	}
	return v
}

// envOf returns the value of variable k in container name's environment.
func envOf(name, k string) string {
	out, err := sh("podman", "inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", name)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, k+"="); ok {
			return v
		}
	}
	return ""
}

// writeMarkers writes a marker into each app's volume, through the app's container.
func writeMarkers(seed uint64) (map[string]string, error) {
	m := map[string]string{}
	for _, app := range apps {
		m[app] = fmt.Sprintf("marker-%d-%s", seed, app)
		if _, err := sh("podman", "exec", app, "sh", "-c", "echo "+m[app]+" > /data/marker"); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// wipe removes everything the campaign leaves on the node: containers, companion, volumes,
// rendered files. It is not a fault: it is how each test starts and ends.
func wipe() {
	os.Chmod(unitDir(), 0o755)
	userctl("stop", uiUnit)
	os.Remove(filepath.Join(unitDir(), uiName+".container"))
	userctl("daemon-reload")
	userctl("reset-failed")
	for _, n := range append(slices.Clone(apps), uiName) {
		sh("podman", "rm", "-f", "-i", "-t", "0", n, n+".PREV", n+".FAILED")
	}
	sh("podman", "rm", "-f", "-i", "-t", "0", userCtr)
	sh("podman", "network", "rm", "-f", netName)
	for _, app := range apps {
		sh("podman", "volume", "rm", "-f", volumeOf(app))
	}
	os.RemoveAll(stateDir())
	os.Remove(unitDir()) // when empty: back to a fresh node's state
}
