package quadlet

import (
	"bytes"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// resource renders the one-section units (.network, .volume): [Unit] Description and the
// resource's section, each value encoded as in [Container].
type resource struct {
	name string
	opts Options
	e    *enc
	unit section
	s    section
}

func newResource(name string, opts Options, description string, after, requires []string) *resource {
	if opts.Target == (Version{}) {
		opts.Target = Podman542
	}
	r := &resource{name: name, opts: opts, e: &enc{}}
	if opts.Target.Less(MinVersion) {
		r.e.fail("file", "target", "podman %s is older than the oldest supported, %s", opts.Target, MinVersion)
	}
	if description != "" {
		r.unit.add("Description", r.e.raw("Unit", "Description", description, false))
	}
	for _, dep := range []struct {
		key   string
		names []string
	}{{"After", after}, {"Requires", requires}} {
		if names := r.e.unitNames("Unit", dep.key, dep.names); len(names) > 0 {
			r.unit.add(dep.key, strings.Join(names, " "))
		}
	}
	return r
}

// gate reports whether the target has key, adding an Unsupported problem when not.
func (r *resource) gate(section, key string, since map[string]Version) bool {
	v, gated := since[key]
	if !gated || !r.opts.Target.Less(v) {
		return true
	}
	r.e.problems = append(r.e.problems, KeyError{Section: section, Key: key, Unsupported: true,
		Reason: fmt.Sprintf("needs podman %s, the target is %s", v, r.opts.Target)})
	return false
}

func (r *resource) one(section, key, v string, re *regexp.Regexp, since map[string]Version) {
	if v == "" {
		return
	}
	if re != nil && !re.MatchString(v) {
		r.e.fail(section, key, "%q does not match %s", v, re)
	}
	if enc := r.e.raw(section, key, v, true); r.gate(section, key, since) {
		r.s.add(key, enc)
	}
}

func (r *resource) list(section, key string, vs []string) {
	for i, v := range vs {
		r.s.add(key, r.e.raw(section, fmt.Sprintf("%s[%d]", key, i), v, true))
	}
}

func (r *resource) flag(section, key string, on bool, since map[string]Version) {
	if on && r.gate(section, key, since) {
		r.s.add(key, "true")
	}
}

func (r *resource) keyVals(section, key string, kv map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		r.s.add(key, r.e.keyVal(section, key, k, kv[k], labelKeyRE, false))
	}
}

// common adds the keys every Quadlet resource has.
func (r *resource) common(section, serviceName string, modules, globalArgs, podmanArgs []string, since map[string]Version) {
	if serviceName != "" && (ValidateName(serviceName) != nil || strings.HasSuffix(serviceName, ".service")) {
		r.e.fail(section, "ServiceName", "%q is not a unit base name", serviceName)
	}
	r.one(section, "ServiceName", serviceName, nil, since)
	r.list(section, "ContainersConfModule", modules)
	if len(globalArgs) > 0 {
		r.s.add("GlobalArgs", r.e.words(section, "GlobalArgs", globalArgs))
	}
	if len(podmanArgs) > 0 {
		r.s.add("PodmanArgs", r.e.words(section, "PodmanArgs", podmanArgs))
	}
}

func (r *resource) finish(file, section string) ([]byte, error) {
	if err := ValidateName(r.name); err != nil {
		return nil, err
	}
	if len(r.e.problems) > 0 {
		return nil, &Error{Unit: file, Problems: r.e.problems}
	}
	var b bytes.Buffer
	b.WriteString(header)
	r.unit.write(&b, "Unit")
	if b.Len() > len(header) {
		b.WriteByte('\n')
	}
	b.WriteString("[" + section + "]\n") // even empty: the group makes the unit
	for _, l := range r.s.lines {
		b.WriteString(l + "\n")
	}
	return b.Bytes(), nil
}
