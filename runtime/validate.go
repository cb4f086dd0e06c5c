package runtime

import (
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"strings"
	"time"
)

// FieldError is one problem with one field of a spec. Msg never contains the field's value when
// the value may be secret (environment values).
type FieldError struct {
	// Field is the path of the field, e.g. "Ports[1].HostPort" or "Env[RPC_PASS]".
	Field string
	Msg   string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Msg }

// ValidationError lists every problem found in a spec. errors.Is(err, ErrInvalidSpec) holds.
type ValidationError struct {
	// Subject names what was validated ("app bitcoind", "container btc-ui").
	Subject  string
	Problems []FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid %s: %d problem(s)", e.Subject, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("; ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidSpec) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidSpec }

// Problems collects FieldErrors; the zero value is ready to use.
type Problems []FieldError

// Add records a problem with field.
func (p *Problems) Add(field, format string, args ...any) {
	*p = append(*p, FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// Err returns a *ValidationError for subject, or nil when there are no problems.
func (p Problems) Err(subject string) error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Subject: subject, Problems: p}
}

const maxNameLen = 63

var (
	nameRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
	envKeyRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	capRE      = regexp.MustCompile(`^(CAP_)?[A-Z][A-Z_]*$`)
	userRE     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$`)
	volNameRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	labelKeyRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_./-]*$`)
	// An image reference: [host[:port]/]path[:tag][@digest], lower-case path components.
	imageRE = regexp.MustCompile(`^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`)
)

// ValidateName checks a container or app name: 1-63 characters of [a-z0-9_.-], starting with a
// letter or digit. Such a name is also a valid systemd unit-name prefix and podman name.
func ValidateName(p *Problems, field, name string) {
	switch {
	case name == "":
		p.Add(field, "is empty")
	case len(name) > maxNameLen:
		p.Add(field, "is %d characters long, the limit is %d", len(name), maxNameLen)
	case !nameRE.MatchString(name):
		p.Add(field, "%q must be lower-case letters, digits, '_', '.', '-', starting with a letter or digit", name)
	}
}

// ValidateImage checks an image reference's syntax.
func ValidateImage(p *Problems, field, ref string) {
	switch {
	case ref == "":
		p.Add(field, "is empty")
	case len(ref) > 255:
		p.Add(field, "is longer than 255 characters")
	case !imageRE.MatchString(ref):
		p.Add(field, "%q is not a valid image reference", ref)
	}
}

// ValidateHostPath checks a bind-mount source or another host path: absolute, clean of "..",
// free of control characters.
func ValidateHostPath(p *Problems, field, hostPath string) {
	switch {
	case hostPath == "":
		p.Add(field, "is empty")
	case hasControl(hostPath):
		p.Add(field, "contains a control character")
	case !strings.HasPrefix(hostPath, "/"):
		p.Add(field, "%q is not an absolute path", hostPath)
	case hasDotDot(hostPath):
		p.Add(field, "%q contains a '..' element", hostPath)
	}
}

// Validate checks spec and returns a *ValidationError listing every problem, or nil.
func (spec ContainerSpec) Validate() error {
	var p Problems
	spec.validate(&p, "")
	return p.Err("container " + fmt.Sprintf("%q", spec.Name))
}

// ValidateInto adds spec's problems to p, each field prefixed with prefix (e.g. "Container.").
func (spec ContainerSpec) ValidateInto(p *Problems, prefix string) { spec.validate(p, prefix) }

func (spec ContainerSpec) validate(p *Problems, pre string) {
	ValidateName(p, pre+"Name", spec.Name)
	ValidateImage(p, pre+"Image", spec.Image)
	validateArgv(p, pre+"Entrypoint", spec.Entrypoint)
	validateArgv(p, pre+"Command", spec.Command)
	for _, k := range sortedKeys(spec.Env) {
		f := pre + "Env[" + safeKey(k) + "]"
		if !envKeyRE.MatchString(k) {
			p.Add(f, "key must match [A-Za-z_][A-Za-z0-9_]*")
		}
		if hasControl(spec.Env[k]) {
			p.Add(f, "value contains a control character") // the value itself may be a secret
		}
	}
	switch spec.Network.Mode {
	case NetworkBridge, NetworkHost:
		if spec.Network.Name != "" {
			p.Add(pre+"Network.Name", "is set but the mode is not NetworkNamed")
		}
	case NetworkNamed:
		if !volNameRE.MatchString(spec.Network.Name) || len(spec.Network.Name) > maxNameLen {
			p.Add(pre+"Network.Name", "%q is not a valid network name", spec.Network.Name)
		}
	default:
		p.Add(pre+"Network.Mode", "unknown mode %d", spec.Network.Mode)
	}
	if spec.Network.Mode == NetworkHost && len(spec.Ports) > 0 {
		p.Add(pre+"Ports", "ports cannot be published with host networking")
	}
	validatePorts(p, pre, spec.Ports)
	validateSecrets(p, pre, spec.Secrets, spec.Env)
	targets := map[string]bool{}
	for i, m := range spec.Mounts {
		f := fmt.Sprintf("%sMounts[%d]", pre, i)
		switch m.Type {
		case MountVolume:
			if !volNameRE.MatchString(m.Source) || len(m.Source) > 255 {
				p.Add(f+".Source", "%q is not a valid volume name", m.Source)
			}
		case MountBind:
			ValidateHostPath(p, f+".Source", m.Source)
			if strings.Contains(m.Source, ":") {
				p.Add(f+".Source", "%q contains a ':', which podman's -v and Quadlet's Volume= read as a separator", m.Source)
			}
		default:
			p.Add(f+".Type", "unknown mount type %d", m.Type)
		}
		switch {
		case m.Target == "" || hasControl(m.Target) || !strings.HasPrefix(m.Target, "/") || hasDotDot(m.Target):
			p.Add(f+".Target", "must be an absolute path without '..' or control characters")
		case strings.Contains(m.Target, ":"):
			p.Add(f+".Target", "%q contains a ':', which podman's -v and Quadlet's Volume= read as a separator", m.Target)
		case targets[path.Clean(m.Target)]:
			p.Add(f+".Target", "%q is mounted twice", m.Target)
		}
		targets[path.Clean(m.Target)] = true
		validateRelabel(p, f, m)
	}
	for i, c := range spec.CapAdd {
		if !capRE.MatchString(c) || c == "ALL" {
			p.Add(fmt.Sprintf("%sCapAdd[%d]", pre, i), "%q is not a capability name", c)
		}
	}
	for i, c := range spec.CapDrop {
		if !capRE.MatchString(c) {
			p.Add(fmt.Sprintf("%sCapDrop[%d]", pre, i), "%q is not a capability name", c)
		}
	}
	if spec.User != "" && !userRE.MatchString(spec.User) {
		p.Add(pre+"User", "%q must be user[:group] of [A-Za-z0-9_.-]", spec.User)
	}
	for _, k := range sortedKeys(spec.Labels) {
		f := pre + "Labels[" + safeKey(k) + "]"
		if !labelKeyRE.MatchString(k) {
			p.Add(f, "is not a valid label key")
		}
		if hasControl(spec.Labels[k]) {
			p.Add(f, "value contains a control character")
		}
	}
	if hc := spec.HealthCheck; hc != nil {
		f := pre + "HealthCheck"
		if len(hc.Command) == 0 {
			p.Add(f+".Command", "is empty")
		}
		validateArgv(p, f+".Command", hc.Command)
		ValidateDuration(p, f+".Interval", hc.Interval, 0, 24*time.Hour)
		ValidateDuration(p, f+".Timeout", hc.Timeout, 0, time.Hour)
		ValidateDuration(p, f+".StartPeriod", hc.StartPeriod, 0, 24*time.Hour)
		if hc.Retries < 0 || hc.Retries > 1000 {
			p.Add(f+".Retries", "%d is outside 0..1000", hc.Retries)
		}
	}
	ValidateDuration(p, pre+"StopTimeout", spec.StopTimeout, 0, time.Hour)
	spec.Resources.validate(p, pre)
}

// systemDirs are host directories a private relabel would take from the rest of the system.
var systemDirs = map[string]bool{"/": true, "/bin": true, "/boot": true, "/dev": true, "/etc": true, "/home": true,
	"/lib": true, "/lib64": true, "/opt": true, "/proc": true, "/root": true, "/run": true, "/sbin": true,
	"/sys": true, "/tmp": true, "/usr": true, "/var": true}

// validateRelabel checks a mount's SELinux relabel option: "z" or "Z", and never on a system
// directory (podman refuses some of them, and relabelling /home or /usr breaks the host).
func validateRelabel(p *Problems, f string, m Mount) {
	switch m.Relabel {
	case "":
	case RelabelShared, RelabelPrivate:
		if m.Type == MountBind && systemDirs[path.Clean(m.Source)] {
			p.Add(f+".Relabel", "%q would relabel the system directory %s", m.Relabel, path.Clean(m.Source))
		}
	default:
		p.Add(f+".Relabel", "%q must be %q (shared) or %q (private)", m.Relabel, RelabelShared, RelabelPrivate)
	}
}

// ValidateDuration checks that d lies in [lo, hi] and is whole seconds or milliseconds the
// engines can express (a multiple of 1 ms).
func ValidateDuration(p *Problems, field string, d, lo, hi time.Duration) {
	switch {
	case d < lo || d > hi:
		p.Add(field, "%v is outside %v..%v", d, lo, hi)
	case d%time.Millisecond != 0:
		p.Add(field, "%v is not a whole number of milliseconds", d)
	}
}

func validatePorts(p *Problems, pre string, ports []Port) {
	for i, pt := range ports {
		f := fmt.Sprintf("%sPorts[%d]", pre, i)
		n := int(max(pt.Count, 1))
		if pt.ContainerPort == 0 {
			p.Add(f+".ContainerPort", "is 0")
		}
		if pt.HostPort == 0 {
			p.Add(f+".HostPort", "is 0")
		}
		if int(pt.HostPort)+n-1 > 65535 || int(pt.ContainerPort)+n-1 > 65535 {
			p.Add(f+".Count", "range of %d ports runs past 65535", n)
		}
		if pt.Protocol != "" && pt.Protocol != "tcp" && pt.Protocol != "udp" {
			p.Add(f+".Protocol", "%q must be tcp or udp", pt.Protocol)
		}
		if pt.HostIP != "" && !ValidHostIP(pt.HostIP) {
			p.Add(f+".HostIP", "%q is not an IP address", pt.HostIP)
		}
		for j, prev := range ports[:i] {
			if pt.HostPort != 0 && prev.HostPort != 0 && portsOverlap(prev, pt) {
				p.Add(f+".HostPort", "host port %d/%s is published twice (also by Ports[%d])",
					max(pt.HostPort, prev.HostPort), protocol(pt), j)
				break
			}
		}
	}
}

// ValidHostIP reports whether ip is an address podman can bind a published port to: an IPv4
// or IPv6 address in its textual form, without brackets or a zone.
func ValidHostIP(ip string) bool {
	a, err := netip.ParseAddr(ip)
	return err == nil && a.Zone() == ""
}

func protocol(pt Port) string {
	if pt.Protocol == "" {
		return "tcp"
	}
	return pt.Protocol
}

// portsOverlap reports whether a and b publish a common host port of one protocol on
// addresses that overlap (equal, or either of them all addresses).
func portsOverlap(a, b Port) bool {
	if protocol(a) != protocol(b) {
		return false
	}
	if !anyAddr(a.HostIP) && !anyAddr(b.HostIP) && normAddr(a.HostIP) != normAddr(b.HostIP) {
		return false
	}
	aEnd := int(a.HostPort) + int(max(a.Count, 1)) - 1
	bEnd := int(b.HostPort) + int(max(b.Count, 1)) - 1
	return int(a.HostPort) <= bEnd && int(b.HostPort) <= aEnd
}

func anyAddr(ip string) bool {
	a, err := netip.ParseAddr(ip)
	return ip == "" || err == nil && a.IsUnspecified()
}

func normAddr(ip string) string {
	if a, err := netip.ParseAddr(ip); err == nil {
		return a.String()
	}
	return ip
}

func validateArgv(p *Problems, field string, argv []string) {
	for i, a := range argv {
		if strings.ContainsRune(a, 0) || strings.ContainsAny(a, "\n\r") {
			p.Add(fmt.Sprintf("%s[%d]", field, i), "contains a newline or NUL")
		}
	}
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return true
		}
	}
	return false
}

func hasDotDot(p string) bool {
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return true
		}
	}
	return false
}

// IsReservedLabel reports whether k is in skerry's own label namespace ("io.skerry."), which
// user-supplied specs may not use.
func IsReservedLabel(k string) bool { return strings.HasPrefix(k, "io.skerry.") }

// safeKey quotes a map key for a field path so that a hostile key cannot forge the message.
func safeKey(k string) string {
	if envKeyRE.MatchString(k) || labelKeyRE.MatchString(k) {
		return k
	}
	return fmt.Sprintf("%q", k)
}
