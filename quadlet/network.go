package quadlet

import (
	"fmt"
	"net/netip"
	"regexp"
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
