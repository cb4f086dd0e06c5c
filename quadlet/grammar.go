package quadlet

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// The grammars of the [Container] values Quadlet itself reads (podman's
// pkg/systemd/quadlet/quadlet.go: addVolumes, resolveContainerMountParams, handleStorageSource;
// pkg/specgenutil/volumes.go for --mount), checked before anything is written: a value Quadlet
// cannot translate makes it drop the unit, and podman 5.4.2's generator panics on a Mount of a
// volume without a source and then generates no unit of the directory at all.

var (
	// hostPathRE is what a bind source may be: Quadlet copies it into the service's
	// RequiresMountsFor=, where systemd splits at whitespace, refuses ".." and unclean paths,
	// expands '%' but not '$', and where 5.4.2 wrote a trailing '\' as a line continuation.
	hostPathRE = regexp.MustCompile(`^/[A-Za-z0-9._@+~/-]*$`)
	// globPathRE adds the glob characters for type=glob sources.
	globPathRE = regexp.MustCompile(`^/[A-Za-z0-9._@+~/*?\[\]-]*$`)
	// volumeNameRE is podman's volume name rule, or a Quadlet "name.volume" reference (whose
	// name may be a template's, "name@.volume").
	volumeNameRE = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9_.-]*|[A-Za-z0-9][A-Za-z0-9_.@-]*\.volume)$`)
	aliasDirRE   = regexp.MustCompile(`^[A-Za-z0-9_.@/-]+$`)
	// containerPathRE is a destination inside the container: absolute, no separator of the
	// grammars it sits in (':' for Volume and Tmpfs, ',' and '=' for Mount).
	containerPathRE = regexp.MustCompile(`^/[^,:=\s"'\\]*$`)
	// envFileRE is an EnvironmentFile path: absolute, under a directory specifier, or relative
	// (Quadlet resolves it against the unit's directory).
	envFileRE   = regexp.MustCompile(`^(/|%[htSCETV]/)?[A-Za-z0-9._@+~/-]+$`)
	portRangeRE = regexp.MustCompile(`^[0-9]+(-[0-9]+)?(/udp|/tcp)?$`)
)

// cleanPath reports whether p is an absolute path in its simplest form: no "." or ".."
// component, no "//", no trailing '/' (but "/").
func cleanPath(p string) bool { return path.Clean(p) == p }

// hostDirSpecifiers are the systemd specifiers a host path may start with ("%h/data"): the
// user's home, runtime, state, cache, configuration and temporary directories.
const hostDirSpecifiers = "htSCETV"

// hostPathBase splits a host path into its base ("%h", "." or "") and the absolute rest.
func hostPathBase(p string) (base, rest string) {
	switch {
	case strings.HasPrefix(p, "./"):
		return ".", p[1:]
	case len(p) > 2 && p[0] == '%' && strings.IndexByte(hostDirSpecifiers, p[1]) >= 0 && p[2] == '/':
		return p[:2], p[2:]
	}
	return "", p
}

// hostPath checks a bind source: an absolute path, or one under a directory specifier
// ("%h/data", kept as a specifier: systemd expands it), or "./rel" (Quadlet resolves it
// against the unit's directory); what follows is clean and of a safe character set.
func (e *enc) hostPath(section, key, p string, re *regexp.Regexp) {
	if _, rest := hostPathBase(p); !re.MatchString(rest) || !cleanPath(rest) || rest == "/" && p != "/" {
		e.fail(section, key, "source %q must be a clean absolute path of [A-Za-z0-9._@+~/-], or one under %%h/ (or another directory specifier) or ./ (Quadlet copies it into RequiresMountsFor=, which systemd splits and refuses with '..' or '$')", p)
	}
}

// isHostPath reports whether a Volume source is a path rather than a volume name.
func isHostPath(src string) bool {
	base, _ := hostPathBase(src)
	return base != "" || strings.HasPrefix(src, "/")
}

// keepSpecifier undoes the '%' escaping of a directory specifier that starts a host path at
// the given prefix of an encoded value ("Volume=%%h/data:/data" -> "Volume=%h/data:/data").
func keepSpecifier(encoded, prefix, raw string) string {
	if base, _ := hostPathBase(raw); len(base) == 2 {
		return strings.Replace(encoded, prefix+"%"+base, prefix+base, 1)
	}
	return encoded
}

// volume checks one Volume= value: "[source:]target[:options]".
func (e *enc) volume(section, key, v string) {
	parts := strings.SplitN(v, ":", 3)
	if len(parts) == 1 {
		if !containerPathRE.MatchString(v) {
			e.fail(section, key, "%q: an anonymous volume is an absolute container path", v)
		}
		return
	}
	src, dst := parts[0], parts[1]
	switch {
	case src == "":
		e.fail(section, key, "%q: the source is empty (Quadlet then drops the options); for an anonymous volume write only the target", v)
	case isHostPath(src):
		e.hostPath(section, key, src, hostPathRE)
	case !volumeNameRE.MatchString(src):
		e.fail(section, key, "source %q is neither a host path (/abs, %%h/rel, ./rel) nor a volume name [A-Za-z0-9][A-Za-z0-9_.-]*", src)
	}
	if !containerPathRE.MatchString(dst) {
		e.fail(section, key, "target %q must be an absolute container path", dst)
	}
	if len(parts) == 3 {
		for _, o := range strings.Split(parts[2], ",") {
			if o == "" {
				e.fail(section, key, "%q has an empty option", v)
				break
			}
		}
	}
}

// mountTypes are the --mount types podman accepts, with the release that added each (artifact:
// podman 5.5).
var mountTypes = map[string]Version{
	"bind": MinVersion, "volume": MinVersion, "tmpfs": MinVersion, "ramfs": MinVersion,
	"devpts": MinVersion, "image": MinVersion, "glob": MinVersion, "artifact": {5, 5},
}

// mountOptions are the option names of podman's --mount parser (parseMountOptions,
// getDevptsMount, getImageVolume).
var mountOptions = setOf("bind-nonrecursive", "bind-propagation", "consistency", "idmap", "readonly", "ro", "rw",
	"readwrite", "nodev", "dev", "noexec", "exec", "nosuid", "suid", "noswap", "relabel", "shared", "rshared",
	"private", "rprivate", "slave", "rslave", "unbindable", "runbindable", "Z", "z", "no-dereference", "src",
	"source", "subpath", "volume-subpath", "target", "dst", "destination", "tmpcopyup", "notmpcopyup",
	"tmpfs-mode", "tmpfs-size", "U", "chown", "volume-opt", "uid", "gid", "mode", "ptmxmode", "newinstance",
	"max", "name", "digest", "title")

func setOf(vs ...string) map[string]bool {
	m := make(map[string]bool, len(vs))
	for _, v := range vs {
		m[v] = true
	}
	return m
}

// mount checks one Mount= value against podman's --mount grammar and Quadlet's rules: a
// comma-separated list (no '"': Quadlet re-encodes the value as CSV, which would change it),
// a known type (default volume), known options, one destination, and a source for the types
// whose source Quadlet resolves (volume, bind, glob, image, artifact).
func (e *enc) mount(section, key, v string, target Version) {
	if strings.ContainsAny(v, "\"\n") {
		e.fail(section, key, "%q contains '\"', which Quadlet's CSV re-encoding changes", v)
		return
	}
	typ, src, dst, typeSeen := "volume", "", "", false
	hasSrc := false
	for _, tok := range strings.Split(v, ",") {
		name, val, hasVal := strings.Cut(tok, "=")
		switch {
		case tok == "":
			e.fail(section, key, "%q has an empty option", v)
			return
		case name == "type" && !typeSeen && hasVal && !strings.Contains(val, "="):
			typ, typeSeen = val, true
		case !mountOptions[name]:
			e.fail(section, key, "option %q is not one of podman's --mount options", name)
		case name == "src" || name == "source":
			src, hasSrc = val, true
		case name == "target" || name == "dst" || name == "destination":
			dst = val
		}
	}
	since, known := mountTypes[typ]
	switch {
	case !known:
		e.fail(section, key, "type %q is not one of bind, volume, tmpfs, ramfs, devpts, image, glob, artifact", typ)
		return
	case target.Less(since):
		e.problems = append(e.problems, KeyError{Section: section, Key: key, Unsupported: true,
			Reason: fmt.Sprintf("type=%s needs podman %s, the target is %s", typ, since, target)})
	}
	if dst == "" && typ != "glob" {
		e.fail(section, key, "%q has no destination", v)
	} else if dst != "" && !containerPathRE.MatchString(dst) {
		e.fail(section, key, "destination %q must be an absolute container path", dst)
	}
	switch typ {
	case "volume", "bind", "glob", "image", "artifact":
		if src == "" {
			e.fail(section, key, "type=%s needs a non-empty source (Quadlet requires one; podman 5.4.2's generator crashes without it)", typ)
			return
		}
	default:
		if hasSrc {
			e.fail(section, key, "type=%s takes no source", typ)
		}
		return
	}
	switch {
	case typ == "bind":
		e.hostPath(section, key, src, hostPathRE)
	case typ == "glob":
		e.hostPath(section, key, src, globPathRE)
	case typ == "volume" && !volumeNameRE.MatchString(src):
		e.fail(section, key, "source %q is not a volume name [A-Za-z0-9][A-Za-z0-9_.-]*", src)
	case strings.HasPrefix(src, ".") || strings.HasPrefix(src, "%"):
		e.fail(section, key, "source %q is relative (Quadlet resolves it against the unit's directory)", src)
	}
}

// mountSource returns the source of a Mount value, "" without one.
func mountSource(v string) string {
	for _, tok := range strings.Split(v, ",") {
		if name, val, _ := strings.Cut(tok, "="); name == "src" || name == "source" {
			return val
		}
	}
	return ""
}
