package quadlet

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// cw writes the [Container] section: each key is encoded for the way Quadlet's parser reads it
// (see escape.go) and gated by the target podman.
type cw struct {
	e          *enc
	s          section
	opts       Options
	downgraded []string
}

const cs = "Container"

// put adds key=encoded, or, for a key newer than the target, its podman flag (with Downgrade)
// or an Unsupported problem.
func (w *cw) put(key, encoded, raw string) {
	g, gated := gatedKeys[key]
	switch {
	case !gated || !w.opts.Target.Less(g.since):
		w.s.add(key, encoded)
	case w.opts.Downgrade && g.flag != "":
		w.downgraded = append(w.downgraded, g.flag+"="+raw)
	default:
		w.e.problems = append(w.e.problems, KeyError{Section: cs, Key: key, Unsupported: true,
			Reason: fmt.Sprintf("needs podman %s, the target is %s", g.since, w.opts.Target)})
	}
}

// one adds a single raw value (Lookup); check, when set, validates a non-empty value.
func (w *cw) one(key, v string, check func(string) string) {
	if v == "" {
		return
	}
	if check != nil {
		if reason := check(v); reason != "" {
			w.e.fail(cs, key, "%q %s", v, reason)
		}
	}
	w.put(key, w.e.raw(cs, key, v, true), v)
}

// list adds raw values one per line (LookupAll); check validates each.
func (w *cw) list(key string, vs []string, check func(field, v string)) {
	for i, v := range vs {
		field := fmt.Sprintf("%s[%d]", key, i)
		if check != nil && v != "" {
			check(field, v)
		}
		w.put(key, w.e.raw(cs, field, v, true), v)
	}
}

// strvs adds values of a key Quadlet splits at whitespace, one per line.
func (w *cw) strvs(key string, vs []string, check func(string) string) {
	for i, v := range vs {
		field := fmt.Sprintf("%s[%d]", key, i)
		if check != nil && v != "" {
			if reason := check(v); reason != "" {
				w.e.fail(cs, field, "%q %s", v, reason)
			}
		}
		w.put(key, w.e.strv(cs, field, v), v)
	}
}

// words adds an exec-like word list as one line (LookupAllArgs / LookupLastArgs).
func (w *cw) words(key string, vs []string) {
	if len(vs) > 0 {
		w.put(key, w.e.words(cs, key, vs), strings.Join(vs, " "))
	}
}

// wordEach adds one quoted word per line; check validates each.
func (w *cw) wordEach(key string, vs []string, check func(field, v string)) {
	for i, v := range vs {
		field := fmt.Sprintf("%s[%d]", key, i)
		if check != nil && v != "" {
			check(field, v)
		}
		w.put(key, w.e.word(cs, field, v, false), v)
	}
}

func (w *cw) flag(key string, on bool) {
	if on {
		w.put(key, "true", "true")
	}
}

func (w *cw) tri(key string, v *bool) {
	if v != nil {
		w.put(key, strconv.FormatBool(*v), strconv.FormatBool(*v))
	}
}

func (w *cw) count(key string, n int, min int) {
	if n < min {
		w.e.fail(cs, key, "%d is below %d", n, min)
		return
	}
	w.put(key, strconv.Itoa(n), strconv.Itoa(n))
}

func (w *cw) span(key string, d time.Duration) {
	if d != 0 {
		v := w.e.podmanDuration(cs, key, d)
		w.put(key, v, v)
	}
}

// oneOfCheck returns a check that v is one of allowed.
func oneOfCheck(allowed ...string) func(string) string {
	return func(v string) string {
		if !oneOf(v, allowed...) {
			return "is not one of " + strings.Join(allowed, ", ")
		}
		return ""
	}
}

func matchCheck(ok func(string) bool, what string) func(string) string {
	return func(v string) string {
		if !ok(v) {
			return "is not " + what
		}
		return ""
	}
}

func renderContainer(e *enc, c Container, opts Options) *section {
	w := &cw{e: e, opts: opts}
	switch {
	case c.Image == "" && c.Rootfs == "":
		e.fail(cs, "Image", "is required (or Rootfs)")
	case c.Image != "" && c.Rootfs != "":
		e.fail(cs, "Rootfs", "conflicts with Image")
	}
	w.one("Image", c.Image, nil)
	w.one("Rootfs", c.Rootfs, matchCheck(func(v string) bool { return strings.HasPrefix(v, "/") }, "an absolute path"))
	w.one("ContainerName", c.ContainerName, matchCheck(containerRE.MatchString, "[a-zA-Z0-9][a-zA-Z0-9_.-]*"))
	w.words("Exec", c.Exec)
	w.one("Entrypoint", c.Entrypoint, nil)
	w.list("Network", c.Network, nil)
	w.list("NetworkAlias", c.NetworkAlias, nil)
	w.one("IP", c.IP, matchCheck(func(v string) bool { a, err := netip.ParseAddr(v); return err == nil && a.Is4() }, "an IPv4 address"))
	w.one("IP6", c.IP6, matchCheck(func(v string) bool { a, err := netip.ParseAddr(v); return err == nil && a.Is6() }, "an IPv6 address"))
	w.list("PublishPort", c.PublishPort, nil)
	w.list("ExposeHostPort", c.ExposeHostPort, func(f, v string) {
		if !portRangeRE.MatchString(v) {
			e.fail(cs, f, "%q is not port[-port][/tcp|/udp]", v)
		}
	})
	for i, v := range c.Volume {
		field := fmt.Sprintf("Volume[%d]", i)
		if v != "" {
			e.volume(cs, field, v)
		}
		w.put("Volume", keepSpecifier(e.raw(cs, field, v, true), "", v), v)
	}
	for i, v := range c.Mount {
		field := fmt.Sprintf("Mount[%d]", i)
		if v != "" {
			e.mount(cs, field, v, opts.Target)
		}
		enc, src := e.word(cs, field, v, false), mountSource(v)
		enc = keepSpecifier(enc, "source=", src)
		w.put("Mount", keepSpecifier(enc, "src=", src), v)
	}
	w.list("Tmpfs", c.Tmpfs, func(f, v string) {
		if !containerPathRE.MatchString(strings.SplitN(v, ":", 2)[0]) {
			e.fail(cs, f, "%q must start with an absolute container path", v)
		}
	})
	for _, k := range slices.Sorted(maps.Keys(c.Environment)) {
		w.s.add("Environment", e.keyVal(cs, "Environment", k, c.Environment[k], envKeyRE, true))
	}
	for i, v := range c.EnvironmentFile {
		field := fmt.Sprintf("EnvironmentFile[%d]", i)
		if v != "" && !envFileRE.MatchString(v) {
			e.fail(cs, field, "%q is not a path of [A-Za-z0-9._@+~/-]: absolute, under %%h/ (or another directory specifier), or relative to the unit's directory", v)
		}
		w.put("EnvironmentFile", keepSpecifier(e.word(cs, field, v, false), `"`, v), v)
	}
	w.tri("EnvironmentHost", c.EnvironmentHost)
	w.wordEach("Secret", c.Secret, nil)
	for _, m := range []struct {
		key string
		kv  map[string]string
	}{{"Label", c.Label}, {"Annotation", c.Annotation}} {
		for _, k := range slices.Sorted(maps.Keys(m.kv)) {
			w.s.add(m.key, e.keyVal(cs, m.key, k, m.kv[k], labelKeyRE, false))
		}
	}
	capCheck := func(add bool) func(string) string {
		return func(v string) string {
			if !capRE.MatchString(v) || (add && v == "ALL") {
				return "is not a capability name"
			}
			return ""
		}
	}
	w.strvs("AddCapability", c.AddCapability, capCheck(true))
	w.strvs("DropCapability", c.DropCapability, capCheck(false))
	w.strvs("AddDevice", c.AddDevice, matchCheck(func(v string) bool { return strings.HasPrefix(strings.TrimPrefix(v, "-"), "/") }, "[-]/host/device[:...]"))
	w.flag("NoNewPrivileges", c.NoNewPrivileges)
	w.flag("ReadOnly", c.ReadOnly)
	w.tri("ReadOnlyTmpfs", c.ReadOnlyTmpfs)
	w.tri("RunInit", c.RunInit)
	if c.Group != "" && c.User == "" {
		e.fail(cs, "Group", "is set without User (Quadlet refuses the unit)")
	}
	w.one("User", c.User, nil)
	w.one("Group", c.Group, nil)
	w.list("GroupAdd", c.GroupAdd, nil)
	w.one("UserNS", c.UserNS, nil)
	w.strvs("UIDMap", c.UIDMap, nil)
	w.strvs("GIDMap", c.GIDMap, nil)
	w.one("SubUIDMap", c.SubUIDMap, nil)
	w.one("SubGIDMap", c.SubGIDMap, nil)
	w.one("WorkingDir", c.WorkingDir, nil)
	w.one("HostName", c.HostName, nil)
	w.list("AddHost", c.AddHost, nil)
	w.list("DNS", c.DNS, nil)
	w.list("DNSOption", c.DNSOption, nil)
	w.list("DNSSearch", c.DNSSearch, nil)
	w.one("Pod", c.Pod, matchCheck(func(v string) bool { return strings.HasSuffix(v, ".pod") }, "a Quadlet pod unit (name.pod)"))
	w.tri("StartWithPod", c.StartWithPod)
	renderHealth(w, c)
	if c.PidsLimit != nil {
		if *c.PidsLimit < -1 {
			e.fail(cs, "PidsLimit", "%d is below -1", *c.PidsLimit)
		}
		w.put("PidsLimit", strconv.FormatInt(*c.PidsLimit, 10), "")
	}
	w.one("Memory", c.Memory, matchCheck(memoryRE.MatchString, "a size such as 512m"))
	w.one("ShmSize", c.ShmSize, matchCheck(memoryRE.MatchString, "a size such as 64m"))
	w.list("Ulimit", c.Ulimit, nil)
	w.strvs("Sysctl", c.Sysctl, matchCheck(func(v string) bool { return strings.Contains(v, "=") }, "name=value"))
	if c.StopTimeout < 0 {
		e.fail(cs, "StopTimeout", "%v is negative", c.StopTimeout)
	} else if c.StopTimeout > 0 {
		w.put("StopTimeout", strconv.FormatInt(int64((c.StopTimeout+time.Second-1)/time.Second), 10), "")
	}
	w.one("StopSignal", c.StopSignal, matchCheck(signalRE.MatchString, "a signal name"))
	if len(c.ReloadCmd) > 0 && c.ReloadSignal != "" {
		e.fail(cs, "ReloadSignal", "conflicts with ReloadCmd (Quadlet refuses both)")
	}
	w.words("ReloadCmd", c.ReloadCmd)
	w.one("ReloadSignal", c.ReloadSignal, matchCheck(signalRE.MatchString, "a signal name"))
	w.one("LogDriver", c.LogDriver, matchCheck(logDriverRE.MatchString, "a log driver name"))
	w.strvs("LogOpt", c.LogOpt, nil)
	w.one("AutoUpdate", c.AutoUpdate, oneOfCheck("registry", "local"))
	w.one("Pull", c.Pull, oneOfCheck("always", "missing", "never", "newer"))
	if c.Retry != nil {
		w.count("Retry", *c.Retry, 0)
	}
	w.span("RetryDelay", c.RetryDelay)
	w.tri("HttpProxy", c.HttpProxy)
	w.one("Timezone", c.Timezone, nil)
	w.one("CgroupsMode", c.CgroupsMode, oneOfCheck("split", "no-conmon", "enabled", "disabled"))
	w.one("SeccompProfile", c.SeccompProfile, nil)
	w.one("AppArmor", c.AppArmor, nil)
	w.wordEach("Mask", c.Mask, nil)
	w.wordEach("Unmask", c.Unmask, nil)
	w.flag("SecurityLabelDisable", c.SecurityLabelDisable)
	w.flag("SecurityLabelNested", c.SecurityLabelNested)
	w.one("SecurityLabelType", c.SecurityLabelType, nil)
	w.one("SecurityLabelFileType", c.SecurityLabelFileType, nil)
	w.one("SecurityLabelLevel", c.SecurityLabelLevel, nil)
	w.one("ServiceName", c.ServiceName, matchCheck(func(v string) bool { return ValidateName(v) == nil && !strings.HasSuffix(v, ".service") }, "a unit base name"))
	w.list("ContainersConfModule", c.ContainersConfModule, nil)
	w.words("GlobalArgs", c.GlobalArgs)
	if args := append(slices.Clone(c.PodmanArgs), w.downgraded...); len(args) > 0 {
		w.s.add("PodmanArgs", e.words(cs, "PodmanArgs", args))
	}
	return &w.s
}

// renderHealth writes the health-check keys.
func renderHealth(w *cw, c Container) {
	for _, h := range []struct {
		key  string
		argv []string
	}{{"HealthCmd", c.HealthCmd}, {"HealthStartupCmd", c.HealthStartupCmd}} {
		if len(h.argv) > 0 {
			for i, word := range h.argv {
				w.e.checkChars(cs, fmt.Sprintf("%s[%d]", h.key, i), word, false)
			}
			w.put(h.key, w.e.raw(cs, h.key, healthCmd(h.argv), true), "")
		}
	}
	w.span("HealthInterval", c.HealthInterval)
	w.span("HealthTimeout", c.HealthTimeout)
	w.span("HealthStartPeriod", c.HealthStartPeriod)
	if c.HealthRetries != 0 {
		w.count("HealthRetries", c.HealthRetries, 0)
	}
	w.one("HealthOnFailure", c.HealthOnFailure, oneOfCheck("none", "kill", "restart", "stop"))
	w.one("HealthLogDestination", c.HealthLogDestination, nil)
	if c.HealthMaxLogCount != nil {
		w.count("HealthMaxLogCount", *c.HealthMaxLogCount, 0)
	}
	if c.HealthMaxLogSize != nil {
		w.count("HealthMaxLogSize", *c.HealthMaxLogSize, 0)
	}
	w.span("HealthStartupInterval", c.HealthStartupInterval)
	w.span("HealthStartupTimeout", c.HealthStartupTimeout)
	if c.HealthStartupRetries != 0 {
		w.count("HealthStartupRetries", c.HealthStartupRetries, 0)
	}
	if c.HealthStartupSuccess != 0 {
		w.count("HealthStartupSuccess", c.HealthStartupSuccess, 0)
	}
	if v := c.Notify; v != "" {
		if !oneOf(v, "true", "healthy") {
			w.e.fail(cs, "Notify", "%q is not one of true, healthy", v)
		}
		w.put("Notify", v, v)
	}
}
