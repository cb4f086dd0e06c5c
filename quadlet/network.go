package quadlet

import (
	"bytes"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// NetworkUnit is a Quadlet .network unit: a podman network that systemd creates before the
// containers that name it ("Network=name.network" in a .container unit makes Quadlet order
// and require it).
type NetworkUnit struct {
	Description string // [Unit] Description=
	// After= and Requires= name units to order after and require ("mnt-data.mount").
	After, Requires []string
	Network         Network
}

// Network is the [Network] section: every key of podman 5.8's Quadlet. Values follow the rules
// of Container (no empty value, no ";", no control character, valid UTF-8).
type Network struct {
	// NetworkName= is podman's name of the network (default "systemd-" + the unit's name).
	NetworkName string
	// Driver= is "bridge" (podman's default), "macvlan" or "ipvlan"; IPAMDriver= is
	// "host-local", "dhcp" or "none".
	Driver, IPAMDriver string
	// Subnet= values are CIDR prefixes; Gateway= and IPRange= values (a CIDR or "first-last")
	// belong to the subnet of the same index: at most as many as subnets.
	Subnet, Gateway, IPRange []string
	IPv6                     bool     // IPv6=true
	Internal                 bool     // Internal=true: no route out
	DisableDNS               bool     // DisableDNS=true
	DNS                      []string // DNS= server addresses for the network's containers
	// InterfaceName= (podman 5.6) is the host interface (bridge) name.
	InterfaceName string
	// NetworkDeleteOnStop= (podman 5.5) removes the network when the service stops.
	NetworkDeleteOnStop bool
	Options             map[string]string // Options= driver options ("mtu" -> "1400")
	Label               map[string]string // Label=
	// ServiceName= (podman 5.3) names the generated service instead of name-network.service.
	ServiceName string
	// ContainersConfModule=, GlobalArgs= and PodmanArgs= as for Container.
	ContainersConfModule, GlobalArgs, PodmanArgs []string
}

// networkKeys are the [Network] keys newer than MinVersion (podman's sources, as gatedKeys).
var networkKeys = map[string]Version{"ServiceName": {5, 3}, "NetworkDeleteOnStop": {5, 5}, "InterfaceName": {5, 6}}

var (
	resourceNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
	driverRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
	ifaceRE        = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)
)

// NetworkFileName returns the unit file name of network name: name.network.
func NetworkFileName(name string) string { return name + ".network" }

// NetworkServiceName returns the service Quadlet generates for network name (without a
// ServiceName key): name-network.service.
func NetworkServiceName(name string) string { return name + "-network.service" }

// RenderNetwork returns the bytes of name.network for u, with Render's guarantees: pure,
// deterministic, every value validated and escaped, an *Error listing every problem (and no
// bytes) when anything is wrong.
func RenderNetwork(name string, u NetworkUnit, opts Options) ([]byte, error) {
	const S = "Network"
	n := u.Network
	r := newResource(name, opts, u.Description, u.After, u.Requires)
	r.one(S, "NetworkName", n.NetworkName, resourceNameRE, networkKeys)
	r.one(S, "Driver", n.Driver, driverRE, networkKeys)
	r.one(S, "IPAMDriver", n.IPAMDriver, driverRE, networkKeys)
	switch {
	case len(n.Gateway) > len(n.Subnet) || len(n.IPRange) > len(n.Subnet):
		r.e.fail(S, "Subnet", "%d subnets for %d gateways and %d ranges: each gateway and range needs the subnet of its index",
			len(n.Subnet), len(n.Gateway), len(n.IPRange))
	}
	for i, v := range n.Subnet {
		if _, err := netip.ParsePrefix(v); err != nil {
			r.e.fail(S, fmt.Sprintf("Subnet[%d]", i), "%q is not a CIDR prefix", v)
		}
	}
	r.list(S, "Subnet", n.Subnet)
	for i, v := range n.Gateway {
		if _, err := netip.ParseAddr(v); err != nil {
			r.e.fail(S, fmt.Sprintf("Gateway[%d]", i), "%q is not an IP address", v)
		}
	}
	r.list(S, "Gateway", n.Gateway)
	for i, v := range n.IPRange {
		if !ipRange(v) {
			r.e.fail(S, fmt.Sprintf("IPRange[%d]", i), "%q is neither a CIDR prefix nor first-last addresses", v)
		}
	}
	r.list(S, "IPRange", n.IPRange)
	r.flag(S, "IPv6", n.IPv6, networkKeys)
	r.flag(S, "Internal", n.Internal, networkKeys)
	r.flag(S, "DisableDNS", n.DisableDNS, networkKeys)
	for i, v := range n.DNS {
		if _, err := netip.ParseAddr(v); err != nil {
			r.e.fail(S, fmt.Sprintf("DNS[%d]", i), "%q is not an IP address", v)
		}
	}
	r.list(S, "DNS", n.DNS)
	r.one(S, "InterfaceName", n.InterfaceName, ifaceRE, networkKeys)
	r.flag(S, "NetworkDeleteOnStop", n.NetworkDeleteOnStop, networkKeys)
	r.keyVals(S, "Options", n.Options)
	r.keyVals(S, "Label", n.Label)
	r.common(S, n.ServiceName, n.ContainersConfModule, n.GlobalArgs, n.PodmanArgs, networkKeys)
	return r.finish(NetworkFileName(name), S)
}

// ipRange reports whether v is a CIDR prefix or "first-last" addresses (podman --ip-range).
func ipRange(v string) bool {
	if _, err := netip.ParsePrefix(v); err == nil {
		return true
	}
	first, last, ok := strings.Cut(v, "-")
	a, err1 := netip.ParseAddr(first)
	b, err2 := netip.ParseAddr(last)
	return ok && err1 == nil && err2 == nil && a.Is4() == b.Is4() && !b.Less(a)
}

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
