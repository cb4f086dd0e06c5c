//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/containers/common/libnetwork/types"

	"github.com/skerry-dev/skerry/runtime"
)

var _ runtime.NetworkManager = (*Runtime)(nil)

// CreateNetwork implements runtime.NetworkManager with podman network create: a bridge with
// the next free subnet, DNS on unless spec.DisableDNS (aardvark-dns resolves the containers'
// names).
func (r *Runtime) CreateNetwork(ctx context.Context, spec runtime.NetworkSpec) error {
	var p runtime.Problems
	runtime.ValidateNetworkName(&p, "Name", spec.Name)
	if err := p.Err(fmt.Sprintf("network %q", spec.Name)); err != nil {
		return err
	}
	n := &types.Network{Name: spec.Name, Driver: "bridge", Internal: spec.Internal, DNSEnabled: !spec.DisableDNS,
		Labels: spec.Labels}
	body, err := json.Marshal(n)
	if err != nil {
		return err
	}
	if err := r.call(ctx, http.MethodPost, "/networks/create", nil, bytes.NewReader(body), nil); err != nil {
		return fmt.Errorf("podman: create network %s: %w", spec.Name, mapErr(err, runtime.ErrNotFound))
	}
	return nil
}

// ListNetworks implements runtime.NetworkManager with one label-filtered podman network ls.
func (r *Runtime) ListNetworks(ctx context.Context, labels map[string]string) ([]runtime.NetworkInfo, error) {
	query := url.Values{}
	if len(labels) > 0 {
		var want []string
		for _, k := range slices.Sorted(maps.Keys(labels)) {
			want = append(want, k+"="+labels[k])
		}
		query.Set("filters", jsonParam(map[string][]string{"label": want}))
	}
	var nets []types.Network
	if err := r.call(ctx, http.MethodGet, "/networks/json", query, nil, &nets); err != nil {
		return nil, fmt.Errorf("podman: list networks: %w", mapErr(err, runtime.ErrNotFound))
	}
	out := make([]runtime.NetworkInfo, 0, len(nets))
	for _, n := range nets {
		out = append(out, runtime.NetworkInfo{Name: n.Name, Internal: n.Internal, DisableDNS: !n.DNSEnabled, Labels: n.Labels})
	}
	slices.SortFunc(out, func(a, b runtime.NetworkInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// RemoveNetwork implements runtime.NetworkManager with podman network rm without force: podman
// refuses while a container, in any state, is attached ("network is being used", mapped to
// runtime.ErrNetworkInUse).
func (r *Runtime) RemoveNetwork(ctx context.Context, name string) error {
	// The answer lists one report, whose error is never set on success (podman answers an
	// error status instead), so it is not decoded.
	err := r.call(ctx, http.MethodDelete, "/networks/%s", nil, nil, nil, name)
	if err == nil {
		return nil
	}
	if strings.Contains(err.Error(), "network is being used") {
		return fmt.Errorf("podman: remove network %s: %w: %v", name, runtime.ErrNetworkInUse, err)
	}
	return fmt.Errorf("podman: remove network %s: %w", name, mapErr(err, runtime.ErrNotFound))
}
