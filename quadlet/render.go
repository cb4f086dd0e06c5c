package quadlet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
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
// no bytes).
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
	}{{"After", u.After}, {"Wants", u.Wants}, {"Requires", u.Requires}, {"BindsTo", u.BindsTo}, {"PartOf", u.PartOf}} {
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

	renderContainer(e, u.Container, opts).write(&b, "Container")

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
	svc.write(&b, "Service")

	var install section
	if names := e.unitNames("Install", "WantedBy", u.WantedBy); len(names) > 0 {
		install.add("WantedBy", strings.Join(names, " "))
	}
	install.write(&b, "Install")

	if len(e.problems) > 0 {
		return nil, &Error{Unit: name + ".container", Problems: e.problems}
	}
	return b.Bytes(), nil
}

// section accumulates key=value lines in order.
type section struct{ lines []string }

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

func renderContainer(e *enc, c Container, opts Options) *section {
	const S = "Container"
	s := &section{}
	var downgraded []string
	// gated adds a key newer than MinVersion, or downgrades it to a PodmanArgs flag.
	gated := func(key, encoded, rawValue string) {
		g := gatedKeys[key]
		switch {
		case !opts.Target.Less(g.since):
			s.add(key, encoded)
		case opts.Downgrade:
			downgraded = append(downgraded, g.flag+"="+rawValue)
		default:
			e.problems = append(e.problems, KeyError{Section: S, Key: key, Unsupported: true,
				Reason: fmt.Sprintf("needs podman %s, the target is %s", g.since, opts.Target)})
		}
	}
	rawList := func(key string, vs []string) {
		for i, v := range vs {
			enc := e.raw(S, fmt.Sprintf("%s[%d]", key, i), v, true)
			if _, isGated := gatedKeys[key]; isGated {
				gated(key, enc, v)
			} else {
				s.add(key, enc)
			}
		}
	}
	rawOne := func(key, v string) {
		if v == "" {
			return
		}
		enc := e.raw(S, key, v, true)
		if _, isGated := gatedKeys[key]; isGated {
			gated(key, enc, v)
		} else {
			s.add(key, enc)
		}
	}

	if c.Image == "" {
		e.fail(S, "Image", "is required")
	}
	rawOne("Image", c.Image)
	if c.ContainerName != "" && !containerRE.MatchString(c.ContainerName) {
		e.fail(S, "ContainerName", "%q must be [a-zA-Z0-9][a-zA-Z0-9_.-]*", c.ContainerName)
	}
	rawOne("ContainerName", c.ContainerName)
	if len(c.Exec) > 0 {
		s.add("Exec", e.words(S, "Exec", c.Exec))
	}
	rawOne("Entrypoint", c.Entrypoint)
	rawList("Network", c.Network)
	rawList("NetworkAlias", c.NetworkAlias)
	rawList("PublishPort", c.PublishPort)
	rawList("Volume", c.Volume)
	for i, m := range c.Mount {
		s.add("Mount", e.word(S, fmt.Sprintf("Mount[%d]", i), m, false))
	}
	rawList("Tmpfs", c.Tmpfs)
	for _, k := range slices.Sorted(maps.Keys(c.Environment)) {
		s.add("Environment", e.keyVal(S, "Environment", k, c.Environment[k], envKeyRE, true))
	}
	for i, f := range c.EnvironmentFile {
		s.add("EnvironmentFile", e.word(S, fmt.Sprintf("EnvironmentFile[%d]", i), f, false))
	}
	for i, sec := range c.Secret {
		s.add("Secret", e.word(S, fmt.Sprintf("Secret[%d]", i), sec, false))
	}
	for _, k := range slices.Sorted(maps.Keys(c.Label)) {
		s.add("Label", e.keyVal(S, "Label", k, c.Label[k], labelKeyRE, false))
	}
	for _, k := range slices.Sorted(maps.Keys(c.Annotation)) {
		s.add("Annotation", e.keyVal(S, "Annotation", k, c.Annotation[k], labelKeyRE, false))
	}
	for _, caps := range []struct {
		key  string
		list []string
	}{{"AddCapability", c.AddCapability}, {"DropCapability", c.DropCapability}} {
		for i, cp := range caps.list {
			if !capRE.MatchString(cp) || (cp == "ALL" && caps.key == "AddCapability") {
				e.fail(S, fmt.Sprintf("%s[%d]", caps.key, i), "%q is not a capability name", cp)
				continue
			}
			s.add(caps.key, cp)
		}
	}
	if c.NoNewPrivileges {
		s.add("NoNewPrivileges", "true")
	}
	if c.ReadOnly {
		s.add("ReadOnly", "true")
	}
	if c.ReadOnlyTmpfs != nil {
		s.add("ReadOnlyTmpfs", strconv.FormatBool(*c.ReadOnlyTmpfs))
	}
	rawOne("User", c.User)
	rawOne("Group", c.Group)
	rawOne("UserNS", c.UserNS)
	rawOne("WorkingDir", c.WorkingDir)
	rawOne("HostName", c.HostName)
	rawList("AddHost", c.AddHost)
	rawList("DNS", c.DNS)

	if len(c.HealthCmd) > 0 {
		s.add("HealthCmd", e.raw(S, "HealthCmd", healthCmd(c.HealthCmd), true))
	}
	for _, h := range []struct {
		key string
		d   time.Duration
	}{{"HealthInterval", c.HealthInterval}, {"HealthTimeout", c.HealthTimeout}, {"HealthStartPeriod", c.HealthStartPeriod}} {
		if h.d != 0 {
			s.add(h.key, e.podmanDuration(S, h.key, h.d))
		}
	}
	if c.HealthRetries < 0 {
		e.fail(S, "HealthRetries", "%d is negative", c.HealthRetries)
	} else if c.HealthRetries > 0 {
		s.add("HealthRetries", strconv.Itoa(c.HealthRetries))
	}
	if v := c.HealthOnFailure; v != "" {
		if !oneOf(v, "none", "kill", "restart", "stop") {
			e.fail(S, "HealthOnFailure", "%q is not one of none, kill, restart, stop", v)
		}
		s.add("HealthOnFailure", v)
	}
	if v := c.Notify; v != "" {
		if !oneOf(v, "true", "healthy") {
			e.fail(S, "Notify", "%q is not one of true, healthy", v)
		}
		if v == "healthy" && len(c.HealthCmd) == 0 {
			e.fail(S, "Notify", "healthy needs a HealthCmd")
		}
		s.add("Notify", v)
	}
	if c.PidsLimit != nil {
		if *c.PidsLimit < -1 {
			e.fail(S, "PidsLimit", "%d is below -1", *c.PidsLimit)
		}
		s.add("PidsLimit", strconv.FormatInt(*c.PidsLimit, 10))
	}
	if c.Memory != "" && !memoryRE.MatchString(c.Memory) {
		e.fail(S, "Memory", "%q is not a size such as 512m", c.Memory)
	}
	rawOne("Memory", c.Memory)
	if c.StopTimeout < 0 {
		e.fail(S, "StopTimeout", "%v is negative", c.StopTimeout)
	} else if c.StopTimeout > 0 {
		s.add("StopTimeout", strconv.FormatInt(int64((c.StopTimeout+time.Second-1)/time.Second), 10))
	}
	if c.StopSignal != "" && !signalRE.MatchString(c.StopSignal) {
		e.fail(S, "StopSignal", "%q is not a signal name", c.StopSignal)
	}
	rawOne("StopSignal", c.StopSignal)
	if c.LogDriver != "" && !logDriverRE.MatchString(c.LogDriver) {
		e.fail(S, "LogDriver", "%q is not a log driver name", c.LogDriver)
	}
	rawOne("LogDriver", c.LogDriver)
	if v := c.AutoUpdate; v != "" && !oneOf(v, "registry", "local") {
		e.fail(S, "AutoUpdate", "%q is not one of registry, local", v)
	}
	rawOne("AutoUpdate", c.AutoUpdate)
	if v := c.Pull; v != "" && !oneOf(v, "always", "missing", "never", "newer") {
		e.fail(S, "Pull", "%q is not one of always, missing, never, newer", v)
	}
	rawOne("Pull", c.Pull)
	if args := append(slices.Clone(c.PodmanArgs), downgraded...); len(args) > 0 {
		s.add("PodmanArgs", e.words(S, "PodmanArgs", args))
	}
	return s
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
