package quadlet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Options tune Render.
type Options struct {
	// Target is the podman version the unit is for (default Podman542). Keys it lacks are an
	// error, or, with Downgrade, rendered as the equivalent PodmanArgs flag.
	Target Version
	// Downgrade renders keys newer than Target as PodmanArgs instead of failing.
	Downgrade bool
}

// header opens every rendered unit.
const header = "# Rendered by skerry; manual changes are overwritten.\n"

// Render returns the bytes of name.container for u. It is pure and deterministic: the same
// unit and options give the same bytes. Every value is validated and escaped for the Quadlet
// parser and systemd; when anything is wrong it returns an *Error listing every problem (and
// no bytes), so a unit that would make a generator drop it, or crash and drop its whole
// directory (podman 5.4.2 on a Mount without a source), is never written.
func Render(name string, u Unit, opts Options) ([]byte, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	if opts.Target == (Version{}) {
		opts.Target = Podman542
	}
	e := &enc{}
	if opts.Target.Less(MinVersion) {
		e.fail("file", "target", "podman %s is older than the oldest supported, %s", opts.Target, MinVersion)
	}
	var b bytes.Buffer
	b.WriteString(header)

	var unit section
	if u.Description != "" {
		unit.add("Description", e.raw("Unit", "Description", u.Description, false))
	}
	for _, dep := range []struct {
		key   string
		names []string
	}{{"After", u.After}, {"Before", u.Before}, {"Wants", u.Wants}, {"Requires", u.Requires}, {"BindsTo", u.BindsTo},
		{"PartOf", u.PartOf}, {"Conflicts", u.Conflicts}, {"PropagatesStopTo", u.PropagatesStopTo}} {
		if names := e.unitNames("Unit", dep.key, dep.names); len(names) > 0 {
			unit.add(dep.key, strings.Join(names, " "))
		}
	}
	if u.StartLimitBurst < 0 {
		e.fail("Unit", "StartLimitBurst", "%d is negative", u.StartLimitBurst)
	} else if u.StartLimitBurst > 0 {
		unit.add("StartLimitBurst", strconv.Itoa(u.StartLimitBurst))
	}
	if u.StartLimitInterval != 0 {
		unit.add("StartLimitIntervalSec", e.systemdSpan("Unit", "StartLimitInterval", u.StartLimitInterval))
	}
	unit.write(&b, "Unit")

	if u.DefaultDependencies != nil {
		var q section
		if since := gatedKeys["DefaultDependencies"].since; opts.Target.Less(since) {
			e.problems = append(e.problems, KeyError{Section: "Quadlet", Key: "DefaultDependencies", Unsupported: true,
				Reason: fmt.Sprintf("needs podman %s, the target is %s", since, opts.Target)})
		}
		q.add("DefaultDependencies", strconv.FormatBool(*u.DefaultDependencies))
		q.write(&b, "Quadlet")
	}

	container := renderContainer(e, u.Container, opts)
	if n := container.size(); n > maxContainerBytes {
		e.fail("Container", "file", "the section is %d bytes: Quadlet joins it into one ExecStart line, and systemd reads lines of at most 1 MiB (the limit here is %d)", n, maxContainerBytes)
	}
	container.write(&b, "Container")

	var svc section
	if r := u.Service.Restart; r != "" {
		if !oneOf(r, restartModes...) {
			e.fail("Service", "Restart", "%q is not one of %s", r, strings.Join(restartModes, ", "))
		}
		svc.add("Restart", r)
	}
	if u.Service.RestartSec != 0 {
		svc.add("RestartSec", e.systemdSpan("Service", "RestartSec", u.Service.RestartSec))
	}
	if u.Service.TimeoutStartSec != 0 {
		svc.add("TimeoutStartSec", e.systemdSpan("Service", "TimeoutStartSec", u.Service.TimeoutStartSec))
	}
	if u.Service.TimeoutStopSec != 0 {
		svc.add("TimeoutStopSec", e.systemdSpan("Service", "TimeoutStopSec", u.Service.TimeoutStopSec))
	}
	if t := u.Service.Type; t != "" {
		if !oneOf(t, "notify", "oneshot") {
			e.fail("Service", "Type", "%q is not one of notify, oneshot (Quadlet refuses others)", t)
		}
		svc.add("Type", t)
	}
	svc.write(&b, "Service")

	var install section
	for _, dep := range []struct {
		key   string
		names []string
	}{{"WantedBy", u.WantedBy}, {"RequiredBy", u.RequiredBy}, {"UpheldBy", u.UpheldBy}, {"Alias", u.Alias}} {
		names := e.unitNames("Install", dep.key, aliasNames(e, dep.key, dep.names))
		if dep.key == "Alias" && len(names) == len(dep.names) {
			names = dep.names // checked, with their directories
		}
		if len(names) > 0 {
			install.add(dep.key, strings.Join(names, " "))
		}
	}
	if v := u.DefaultInstance; v != "" {
		if !instanceRE.MatchString(v) {
			e.fail("Install", "DefaultInstance", "%q is not an instance name [A-Za-z0-9:_.\\-]+", v)
		}
		install.add("DefaultInstance", v)
	}
	install.write(&b, "Install")

	if len(e.problems) > 0 {
		return nil, &Error{Unit: name + ".container", Problems: e.problems}
	}
	return b.Bytes(), nil
}

// aliasNames checks the directories of Alias values ("dir/alias.service") and returns their
// unit names, for unitNames to check; other keys' names are returned as they are.
func aliasNames(e *enc, key string, aliases []string) []string {
	if key != "Alias" {
		return aliases
	}
	out := make([]string, len(aliases))
	for i, a := range aliases {
		dir, name := "", a
		if j := strings.LastIndexByte(a, '/'); j >= 0 {
			dir, name = a[:j], a[j+1:]
		}
		if dir != "" && (!aliasDirRE.MatchString(dir) || !cleanPath("/"+dir)) {
			e.fail("Install", fmt.Sprintf("Alias[%d]", i), "%q: the directory must be a clean relative path of [A-Za-z0-9_.@-]", a)
		}
		out[i] = name
	}
	return out
}

// maxContainerBytes bounds the [Container] section: Quadlet writes nearly all of it into the
// service's one ExecStart line, where systemd's LONG_LINE_MAX (1 MiB) applies; half of it leaves
// room for the generator's own arguments and escapes.
const maxContainerBytes = 512 << 10

// section accumulates key=value lines in order.
type section struct{ lines []string }

func (s *section) size() int {
	n := 0
	for _, l := range s.lines {
		n += len(l) + 1
	}
	return n
}

func (s *section) add(key, value string) { s.lines = append(s.lines, key+"="+value) }

func (s *section) write(b *bytes.Buffer, name string) {
	if len(s.lines) == 0 {
		return
	}
	if b.Len() > len(header) {
		b.WriteByte('\n')
	}
	b.WriteString("[" + name + "]\n")
	for _, l := range s.lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
}

// healthCmd encodes a health command as the JSON array podman's --health-cmd reads: two or more
// words run directly, a single word runs through a shell (podman's rule). A JSON array also
// never starts or ends with whitespace or '"', which a bare string could.
func healthCmd(words []string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(words) // []string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}
