package orchestrator_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
)

func owned(app string) map[string]string {
	return map[string]string{runtime.LabelManaged: "true", runtime.LabelApp: app}
}

func TestPlanNetworks(t *testing.T) {
	n := orchestrator.Network{Name: "n"}
	cases := []struct {
		name        string
		facts       orchestrator.NetworkFacts
		create      []runtime.NetworkSpec
		remove      []string
		problemsAre []error
	}{
		{name: "nothing", facts: orchestrator.NetworkFacts{}},
		{name: "missing owned network is created with its owner's labels",
			facts:  orchestrator.NetworkFacts{Owned: map[string][]orchestrator.Network{"a": {{Name: "n", Internal: true}}}},
			create: []runtime.NetworkSpec{{Name: "n", Internal: true, Labels: owned("a")}}},
		{name: "existing owned network as wanted: nothing",
			facts: orchestrator.NetworkFacts{Owned: map[string][]orchestrator.Network{"a": {n}},
				Observed: []runtime.NetworkInfo{{Name: "n", Labels: owned("a")}}}},
		{name: "a user's network of that name is a conflict, never touched",
			facts: orchestrator.NetworkFacts{Owned: map[string][]orchestrator.Network{"a": {n}},
				Observed: []runtime.NetworkInfo{{Name: "n"}}},
			problemsAre: []error{orchestrator.ErrNetworkConflict}},
		{name: "another app's network is a conflict",
			facts: orchestrator.NetworkFacts{Owned: map[string][]orchestrator.Network{"a": {n}},
				Observed: []runtime.NetworkInfo{{Name: "n", Labels: owned("b")}}},
			problemsAre: []error{orchestrator.ErrNetworkConflict}},
		{name: "changed options are reported, the network kept",
			facts: orchestrator.NetworkFacts{Owned: map[string][]orchestrator.Network{"a": {{Name: "n", DisableDNS: true}}},
				Observed: []runtime.NetworkInfo{{Name: "n", Labels: owned("a")}}},
			problemsAre: []error{orchestrator.ErrNetworkChanged}},
		{name: "network of an app no longer desired is removed",
			facts:  orchestrator.NetworkFacts{Observed: []runtime.NetworkInfo{{Name: "old", Labels: owned("gone")}, {Name: "podman"}}},
			remove: []string{"old"}},
		{name: "network still joined by a desired app is kept",
			facts: orchestrator.NetworkFacts{Joined: map[string]bool{"old": true},
				Observed: []runtime.NetworkInfo{{Name: "old", Labels: owned("gone")}}}},
		{name: "network an app dropped from its list is removed",
			facts: orchestrator.NetworkFacts{Owned: map[string][]orchestrator.Network{"a": {n}},
				Observed: []runtime.NetworkInfo{{Name: "n", Labels: owned("a")}, {Name: "m", Labels: owned("a")}}},
			remove: []string{"m"}},
		{name: "managed without an app label (not skerry's making) is kept",
			facts: orchestrator.NetworkFacts{Observed: []runtime.NetworkInfo{{Name: "x", Labels: map[string]string{runtime.LabelManaged: "true"}}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan := orchestrator.PlanNetworks(c.facts)
			if diff := cmp.Diff(c.create, plan.Create); diff != "" {
				t.Errorf("create (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.remove, plan.Remove); diff != "" {
				t.Errorf("remove (-want +got):\n%s", diff)
			}
			if len(plan.Problems) != len(c.problemsAre) {
				t.Fatalf("problems %v, want %v", plan.Problems, c.problemsAre)
			}
			for i, p := range plan.Problems {
				if !errors.Is(p, c.problemsAre[i]) {
					t.Errorf("problem %v is not %v", p, c.problemsAre[i])
				}
			}
		})
	}
}

// TestPlanNetworksProperties: whatever the desired apps and the engine's networks, a network
// without skerry's labels or one a desired app owns or joins is never removed; every owned
// network missing from the engine is created once, labeled with its owner; every owned network
// present is either fine or reported; every other network of an app is removed.
func TestPlanNetworksProperties(t *testing.T) {
	names := rapid.SampledFrom([]string{"n1", "n2", "n3", "n4", "n5"})
	apps := rapid.SampledFrom([]string{"a", "b", "c"})
	rapid.Check(t, func(t *rapid.T) {
		f := orchestrator.NetworkFacts{Owned: map[string][]orchestrator.Network{}, Joined: map[string]bool{}}
		owner := map[string]string{}
		for _, name := range rapid.SliceOfNDistinct(names, 0, 5, rapid.ID).Draw(t, "owned") {
			app := apps.Draw(t, "owner")
			owner[name] = app
			f.Owned[app] = append(f.Owned[app], orchestrator.Network{Name: name, Internal: rapid.Bool().Draw(t, "internal")})
		}
		for _, name := range rapid.SliceOfDistinct(names, rapid.ID).Draw(t, "joined") {
			f.Joined[name] = true
		}
		for _, name := range rapid.SliceOfNDistinct(names, 0, 5, rapid.ID).Draw(t, "observed") {
			info := runtime.NetworkInfo{Name: name, Internal: rapid.Bool().Draw(t, "obsInternal")}
			switch rapid.IntRange(0, 2).Draw(t, "labels") {
			case 1:
				info.Labels = owned(apps.Draw(t, "obsOwner"))
			case 2:
				info.Labels = map[string]string{"user": "x"}
			}
			f.Observed = append(f.Observed, info)
		}
		plan := orchestrator.PlanNetworks(f)
		observed := map[string]runtime.NetworkInfo{}
		for _, n := range f.Observed {
			observed[n.Name] = n
		}
		for _, name := range plan.Remove {
			n := observed[name]
			if !n.Managed() || owner[name] != "" || f.Joined[name] {
				t.Fatalf("removes %q: %+v (owner %q, joined %v)", name, n, owner[name], f.Joined[name])
			}
		}
		var created []string
		for _, s := range plan.Create {
			if _, exists := observed[s.Name]; exists || s.Labels[runtime.LabelApp] != owner[s.Name] || s.Labels[runtime.LabelManaged] != "true" {
				t.Fatalf("creates %+v: exists or wrong owner (%q)", s, owner[s.Name])
			}
			created = append(created, s.Name)
		}
		if len(slices.Compact(slices.Clone(created))) != len(created) {
			t.Fatalf("creates twice: %v", created)
		}
		problems := len(plan.Problems)
		for name, app := range owner {
			n, exists := observed[name]
			if !exists && !slices.Contains(created, name) {
				t.Fatalf("owned %q missing and not created", name)
			}
			if exists && (!n.Managed() || n.Labels[runtime.LabelApp] != app || n.DisableDNS || n.Internal != wantInternal(f, app, name)) {
				problems--
			}
		}
		if problems != 0 {
			t.Fatalf("problems %v do not match the owned networks that differ", plan.Problems)
		}
		for _, n := range f.Observed {
			if n.Managed() && owner[n.Name] == "" && !f.Joined[n.Name] && !slices.Contains(plan.Remove, n.Name) {
				t.Fatalf("%q: an app's network nobody owns or joins is not removed", n.Name)
			}
		}
	})
}

func wantInternal(f orchestrator.NetworkFacts, app, name string) bool {
	for _, n := range f.Owned[app] {
		if n.Name == name {
			return n.Internal
		}
	}
	panic(fmt.Sprintf("%s does not own %s", app, name))
}
