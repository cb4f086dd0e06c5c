package runtime

import (
	"context"
	"errors"
	"slices"
)

// ErrNetworkInUse: a network cannot be removed while a container (running or not) is attached
// to it. The network is left as it is.
var ErrNetworkInUse = errors.New("network in use")

// NetworkSpec describes a network to create: a bridge with the engine's defaults (its own
// subnet, DNS between its containers by name) unless told otherwise.
type NetworkSpec struct {
	// Name is the network's name: 1-63 of [a-z0-9_.-] (see ValidateNetworkName).
	Name string
	// Internal networks have no route out: their containers reach each other only.
	Internal bool
	// DisableDNS turns the engine's name resolution between the network's containers off.
	DisableDNS bool
	// Labels are set on the network; they say who owns it.
	Labels map[string]string
}

// NetworkInfo is what an engine reports about one network.
type NetworkInfo struct {
	Name       string
	Internal   bool
	DisableDNS bool
	Labels     map[string]string
}

// Managed reports whether n carries LabelManaged=true.
func (n NetworkInfo) Managed() bool { return n.Labels[LabelManaged] == "true" }

// NetworkManager is implemented by runtimes that can create and remove networks (podman
// network create / ls / rm). The orchestrator uses it for the networks apps own.
type NetworkManager interface {
	// CreateNetwork creates the network; ErrAlreadyExists when one of that name exists, whatever
	// its options.
	CreateNetwork(ctx context.Context, spec NetworkSpec) error
	// ListNetworks returns every network whose labels match labels (all of them when labels is
	// empty), sorted by name, in one engine call.
	ListNetworks(ctx context.Context, labels map[string]string) ([]NetworkInfo, error)
	// RemoveNetwork removes the network unless a container is attached to it: then it fails with
	// ErrNetworkInUse and changes nothing. ErrNotFound when there is no such network.
	RemoveNetwork(ctx context.Context, name string) error
}

// reservedNetworkNames are names with a meaning of their own to podman's --network.
var reservedNetworkNames = []string{"bridge", "container", "host", "none", "ns", "pasta", "podman", "private", "slirp4netns"}

// ValidateNetworkName checks the name of a network skerry creates: an app name's syntax, and
// none of podman's network modes or its default network.
func ValidateNetworkName(p *Problems, field, name string) {
	if slices.Contains(reservedNetworkNames, name) {
		p.Add(field, "%q is reserved by the engine", name)
		return
	}
	ValidateName(p, field, name)
}
