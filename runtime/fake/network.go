package fake

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/skerry-dev/skerry/runtime"
)

// The network operations, for call counting and fault injection.
const (
	OpCreateNetwork Op = "network-create"
	OpListNetworks  Op = "network-list"
	OpRemoveNetwork Op = "network-remove"
)

var _ runtime.NetworkManager = (*Runtime)(nil)

// CreateNetwork implements runtime.NetworkManager.
func (r *Runtime) CreateNetwork(ctx context.Context, spec runtime.NetworkSpec) error {
	var p runtime.Problems
	runtime.ValidateNetworkName(&p, "Name", spec.Name)
	if err := p.Err(fmt.Sprintf("network %q", spec.Name)); err != nil {
		return err
	}
	if err := r.enter(ctx, OpCreateNetwork); err != nil {
		return err
	}
	defer r.mu.Unlock()
	return r.createNetwork(spec)
}

// createNetwork adds spec's network. Called with r.mu held.
func (r *Runtime) createNetwork(spec runtime.NetworkSpec) error {
	if _, ok := r.networks[spec.Name]; ok {
		return fmt.Errorf("fake: network %q: %w", spec.Name, runtime.ErrAlreadyExists)
	}
	r.networks[spec.Name] = runtime.NetworkInfo{Name: spec.Name, Internal: spec.Internal, DisableDNS: spec.DisableDNS,
		Labels: maps.Clone(spec.Labels)}
	return nil
}

// ListNetworks implements runtime.NetworkManager.
func (r *Runtime) ListNetworks(ctx context.Context, labels map[string]string) ([]runtime.NetworkInfo, error) {
	if err := r.enter(ctx, OpListNetworks); err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	var out []runtime.NetworkInfo
	for _, name := range slices.Sorted(maps.Keys(r.networks)) {
		n := r.networks[name]
		if matches(n.Labels, labels) {
			n.Labels = maps.Clone(n.Labels)
			out = append(out, n)
		}
	}
	return out, nil
}

// RemoveNetwork implements runtime.NetworkManager: a network any container (in any state) is
// attached to is in use, as with podman.
func (r *Runtime) RemoveNetwork(ctx context.Context, name string) error {
	if err := r.enter(ctx, OpRemoveNetwork); err != nil {
		return err
	}
	defer r.mu.Unlock()
	if _, ok := r.networks[name]; !ok {
		return fmt.Errorf("fake: network %q: %w", name, runtime.ErrNotFound)
	}
	if users := r.networkUsers(name); len(users) > 0 {
		return fmt.Errorf("fake: network %q is used by %v: %w", name, users, runtime.ErrNetworkInUse)
	}
	delete(r.networks, name)
	return nil
}

// networkUsers returns the containers attached to network name, sorted. Called with r.mu held.
func (r *Runtime) networkUsers(name string) []string {
	var users []string
	for _, c := range r.containers {
		if c.spec.Network.Mode == runtime.NetworkNamed && c.spec.Network.Name == name {
			users = append(users, c.spec.Name)
		}
	}
	slices.Sort(users)
	return users
}

// checkNetwork fails when spec joins a named network that does not exist, as podman's create
// does. Called with r.mu held.
func (r *Runtime) checkNetwork(spec runtime.ContainerSpec) error {
	if spec.Network.Mode != runtime.NetworkNamed {
		return nil
	}
	if _, ok := r.networks[spec.Network.Name]; !ok {
		return fmt.Errorf("fake: create %q: network %q: %w", spec.Name, spec.Network.Name, runtime.ErrNotFound)
	}
	return nil
}

// AddNetwork creates a network behind the orchestrator's back, as a user would (podman network
// create); it fails when one of that name exists.
func (r *Runtime) AddNetwork(spec runtime.NetworkSpec) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.createNetwork(spec)
}

// Network returns the network of that name and whether it exists.
func (r *Runtime) Network(name string) (runtime.NetworkInfo, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, ok := r.networks[name]
	n.Labels = maps.Clone(n.Labels)
	return n, ok
}

// NetworkUsers returns the names of the containers attached to network name, sorted.
func (r *Runtime) NetworkUsers(name string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.networkUsers(name)
}
