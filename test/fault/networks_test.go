//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package fault_test

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/skerry-dev/skerry/runtime"
)

// network is a network as `podman network ls --format json` lists it.
type network struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
}

func networks() ([]network, error) {
	out, err := sh("podman", "network", "ls", "--format", "json")
	if err != nil {
		return nil, err
	}
	var ns []network
	return ns, json.Unmarshal([]byte(out), &ns)
}

// foreignNetworks are the managed networks that were on the node before the campaign began
// (another test's): the campaign does not judge them.
var foreignNetworks = map[string]bool{}

// noteForeignNetworks records the managed networks already on the node.
func noteForeignNetworks() {
	ns, _ := networks()
	for _, n := range ns {
		if n.Labels[runtime.LabelManaged] == "true" && n.Name != netName {
			foreignNetworks[n.Name] = true
		}
	}
}

// checkNetworks checks btc's network: it exists with skerry's labels (io.skerry.managed=true,
// io.skerry.app=btc) while btc is installed, or while a container the test attached by hand
// (w.netUser) still uses it; otherwise it is gone. No other managed network lingers.
func checkNetworks(w want, cs []ctr) []string {
	var v []string
	bad := func(format string, args ...any) { v = append(v, fmt.Sprintf(format, args...)) }
	ns, err := networks()
	if err != nil {
		return []string{"cannot list networks: " + err.Error()}
	}
	var mine *network
	for i, n := range ns {
		switch {
		case n.Name == netName:
			mine = &ns[i]
		case n.Labels[runtime.LabelManaged] == "true" && !foreignNetworks[n.Name]:
			bad("stray managed network %s (labels %v): no app of the node owns it", n.Name, n.Labels)
		}
	}
	users := func() []string {
		var on []string
		for _, c := range cs {
			if c.onNet() {
				on = append(on, fmt.Sprintf("%v (%s)", c.Names, c.State))
			}
		}
		return on
	}
	kept := w.netUser != "" && slices.ContainsFunc(cs, func(c ctr) bool { return c.named(w.netUser) && c.onNet() })
	switch {
	case mine == nil && w.installed:
		bad("network %s of installed %s is missing", netName, btcApp)
	case mine == nil && kept:
		bad("network %s of uninstalled %s was removed while %s is attached to it", netName, btcApp, w.netUser)
	case mine == nil:
	case !w.installed && !kept:
		bad("network %s of uninstalled %s remains (labels %v), attached: %v", netName, btcApp, mine.Labels, users())
	case mine.Labels[runtime.LabelManaged] != "true" || mine.Labels[runtime.LabelApp] != btcApp:
		bad("network %s has labels %v, want %s=true %s=%s", netName, mine.Labels, runtime.LabelManaged, runtime.LabelApp, btcApp)
	}
	return v
}
