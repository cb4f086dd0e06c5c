package orchestrator

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/skerry-dev/skerry/runtime"
)

// Network is a network an app owns: created (labeled runtime.LabelManaged and runtime.LabelApp)
// before the app's container is, so that the app, its companions (companion.Spec.Network) and
// other apps can join it by name; removed once the app is uninstalled and nothing is attached
// to it any more. A network holds no data: one left by a crashed uninstall is removed by a
// later pass once free, and created again if its app comes back.
//
// Its options are not part of the container's spec hash (changing them never recreates the
// container) and are fixed at creation: skerry never tears down a network to change them. An
// Install whose owned network exists with other options fails with ErrNetworkChanged (nothing
// is touched); a pass keeps the existing network and logs it. Uninstall the app (which removes
// the network once free) to apply new options.
//
// An app may join (Container.Network) a network it does not own: another app's, or one the
// user made. Install and RegisterAll refuse, with ErrNoSuchNetwork, a network no desired app
// owns and that does not exist (RegisterAllNoHostCheck, which makes no runtime call, leaves it
// to the container's create, which then fails in every pass until the network exists).
type Network struct {
	// Name is podman's name of the network: an app name's syntax (see
	// runtime.ValidateNetworkName).
	Name string
	// Internal: no route out of the network; its containers reach each other only.
	Internal bool
	// DisableDNS turns off name resolution between the network's containers (aardvark-dns).
	DisableDNS bool
}

// Errors about networks; test them with errors.Is.
var (
	// ErrNetworkClash: two apps own the network of the same name (also runtime.ErrInvalidSpec).
	ErrNetworkClash = errors.New("network owned twice")
	// ErrNoNetworkManager: an app owns a network and the runtime cannot create networks (it is
	// no runtime.NetworkManager); also runtime.ErrInvalidSpec.
	ErrNoNetworkManager = errors.New("runtime cannot manage networks")
	// ErrNetworkConflict: the network an app owns exists and is not that app's (a user's
	// network, or another app's).
	ErrNetworkConflict = errors.New("network exists and is not the app's")
	// ErrNetworkChanged: the network an app owns exists with other options than the app's;
	// skerry does not recreate a network (see Network).
	ErrNetworkChanged = errors.New("owned network's options changed")
	// ErrNoSuchNetwork: an app's container joins a named network that no app owns and that does
	// not exist.
	ErrNoSuchNetwork = errors.New("no such network")
)

// NetworkFacts is what PlanNetworks decides on.
type NetworkFacts struct {
	// Owned maps each desired app to the networks it owns.
	Owned map[string][]Network
	// Joined holds the named networks the desired apps' containers join.
	Joined map[string]bool
	// Observed are the engine's networks: all of them, or only the managed ones (then no
	// conflict with a user's network can be seen).
	Observed []runtime.NetworkInfo
}

// NetworkPlan is what to do about networks.
type NetworkPlan struct {
	// Create are the owned networks missing from the engine, with their owner's labels.
	Create []runtime.NetworkSpec
	// Remove are managed networks that no desired app owns or joins; the engine refuses those
	// still in use (runtime.ErrNetworkInUse), which are then kept for a later pass.
	Remove []string
	// Problems are owned networks that exist but are not as the app wants them: errors
	// wrapping ErrNetworkConflict or ErrNetworkChanged. They are left as they are.
	Problems []error
}

// PlanNetworks decides which networks to create and which to remove. It is pure: the
// orchestrator carries out its plan. A network without runtime.LabelManaged is never removed.
func PlanNetworks(f NetworkFacts) NetworkPlan {
	observed := make(map[string]runtime.NetworkInfo, len(f.Observed))
	for _, n := range f.Observed {
		observed[n.Name] = n
	}
	var plan NetworkPlan
	owned := map[string]bool{}
	for _, app := range slices.Sorted(maps.Keys(f.Owned)) {
		for _, want := range f.Owned[app] {
			owned[want.Name] = true
			have, ok := observed[want.Name]
			switch {
			case !ok:
				plan.Create = append(plan.Create, want.spec(app))
			case !have.Managed() || have.Labels[runtime.LabelApp] != app:
				owner := "not skerry's"
				if have.Managed() {
					owner = fmt.Sprintf("owned by app %q", have.Labels[runtime.LabelApp])
				}
				plan.Problems = append(plan.Problems, fmt.Errorf("app %q: network %q exists, %s: %w", app, want.Name, owner, ErrNetworkConflict))
			case have.Internal != want.Internal || have.DisableDNS != want.DisableDNS:
				plan.Problems = append(plan.Problems, fmt.Errorf("app %q: network %q exists with internal=%t dns=%t, the app wants internal=%t dns=%t: %w",
					app, want.Name, have.Internal, !have.DisableDNS, want.Internal, !want.DisableDNS, ErrNetworkChanged))
			}
		}
	}
	for _, n := range f.Observed {
		if n.Managed() && n.Labels[runtime.LabelApp] != "" && !owned[n.Name] && !f.Joined[n.Name] {
			plan.Remove = append(plan.Remove, n.Name)
		}
	}
	slices.SortFunc(plan.Create, func(a, b runtime.NetworkSpec) int { return strings.Compare(a.Name, b.Name) })
	slices.Sort(plan.Remove)
	return plan
}

// spec returns the network to create for n owned by app.
func (n Network) spec(app string) runtime.NetworkSpec {
	return runtime.NetworkSpec{Name: n.Name, Internal: n.Internal, DisableDNS: n.DisableDNS,
		Labels: map[string]string{runtime.LabelManaged: "true", runtime.LabelApp: app}}
}

// validateNetworks adds the problems of a's owned networks to p: names, and none twice.
func (a App) validateNetworks(p *runtime.Problems) {
	seen := map[string]bool{}
	for i, n := range a.Networks {
		f := fmt.Sprintf("Networks[%d].Name", i)
		if seen[n.Name] {
			p.Add(f, "%q is listed twice", n.Name)
			continue
		}
		seen[n.Name] = true
		runtime.ValidateNetworkName(p, f, n.Name)
	}
}
