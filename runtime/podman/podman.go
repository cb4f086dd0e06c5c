//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/containers/common/libnetwork/types"
	"github.com/containers/image/v5/manifest"
	"github.com/containers/podman/v5/libpod/define"
	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/specgen"
	spec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skerry-dev/skerry/runtime"
)

// Runtime talks to one Podman API socket. It is safe for concurrent use: every call dials the
// socket afresh when no idle connection is left, so a restarted podman service is picked up
// without reconnecting by hand.
type Runtime struct {
	conn  context.Context // the bindings keep their client in a context
	fp    fingerprintKey  // see secrets.go
	host  hostFacts       // see host.go
	exits exitWaits       // see exitwait.go
	fast  directChecks    // see directexec.go
}

var (
	_ runtime.Runtime      = (*Runtime)(nil)
	_ runtime.EventSource  = (*Runtime)(nil)
	_ runtime.HealthRunner = (*Runtime)(nil)
	_ runtime.LogReader    = (*Runtime)(nil)
	_ runtime.ExitWaiter   = (*Runtime)(nil)
)

// New connects to the Podman API at uri (e.g. DefaultSocket()) and checks that it answers.
// The connection outlives ctx: ctx only bounds the check.
func New(ctx context.Context, uri string) (*Runtime, error) {
	conn, err := bindings.NewConnection(context.WithoutCancel(ctx), uri)
	if err != nil {
		return nil, fmt.Errorf("podman: connect %s: %w: %v", uri, runtime.ErrUnavailable, err)
	}
	return &Runtime{conn: conn}, nil
}

// List implements runtime.Containers with one label-filtered call; health comes from the list's
// Status field, which the libpod API fills with the health-check status.
func (r *Runtime) List(ctx context.Context, opts runtime.ListOptions) ([]runtime.Observation, error) {
	var labels []string
	for _, k := range slices.Sorted(maps.Keys(opts.Labels)) {
		labels = append(labels, k+"="+opts.Labels[k])
	}
	query := url.Values{"all": {"true"}}
	if len(labels) > 0 {
		query.Set("filters", jsonParam(map[string][]string{"label": labels}))
	}
	var list []listedContainer
	if err := r.call(ctx, http.MethodGet, "/containers/json", query, nil, &list); err != nil {
		return nil, fmt.Errorf("podman: list: %w", mapErr(err, runtime.ErrNotFound))
	}
	out := make([]runtime.Observation, 0, len(list))
	for _, c := range list {
		o := runtime.Observation{
			ID: c.ID, Image: c.Image, ImageID: c.ImageID, State: runtime.ParseState(c.State), Health: runtime.ParseHealth(c.Status),
			ExitCode: int(c.ExitCode), Labels: c.Labels,
		}
		if len(c.Names) > 0 {
			o.Name = c.Names[0]
		}
		if c.StartedAt > 0 {
			o.StartedAt = time.Unix(c.StartedAt, 0)
		}
		if c.ExitedAt > 0 && c.Exited {
			o.FinishedAt = time.Unix(c.ExitedAt, 0)
		}
		out = append(out, o)
	}
	return out, nil
}

// listedContainer is what the adapter reads of an entry of podman's container list (the
// entities' ListContainer).
type listedContainer struct {
	ID                  string `json:"Id"`
	Image, ImageID      string
	State, Status       string
	Names               []string
	Labels              map[string]string
	ExitCode            int32
	Exited              bool
	StartedAt, ExitedAt int64
}

// inspect is podman's container inspect.
func (r *Runtime) inspect(ctx context.Context, name string) (*define.InspectContainerData, error) {
	var d define.InspectContainerData
	if err := r.call(ctx, http.MethodGet, "/containers/%s/json", nil, nil, &d, name); err != nil {
		return nil, err
	}
	return &d, nil
}

// Inspect implements runtime.Containers.
func (r *Runtime) Inspect(ctx context.Context, name string) (runtime.Observation, error) {
	d, err := r.inspect(ctx, name)
	if err != nil {
		return runtime.Observation{}, fmt.Errorf("podman: inspect %s: %w", name, mapErr(err, runtime.ErrNotFound))
	}
	o := runtime.Observation{Name: d.Name, ID: d.ID, Image: d.ImageName, ImageID: d.Image, Health: runtime.HealthNone}
	if d.Config != nil {
		o.Labels = d.Config.Labels
	}
	for _, m := range d.Mounts {
		switch m.Type {
		case "volume":
			o.Mounts = append(o.Mounts, runtime.Mount{Type: runtime.MountVolume, Source: m.Name, Target: m.Destination, ReadOnly: !m.RW, Relabel: m.Mode})
		case "bind":
			o.Mounts = append(o.Mounts, runtime.Mount{Type: runtime.MountBind, Source: m.Source, Target: m.Destination, ReadOnly: !m.RW, Relabel: m.Mode})
		}
	}
	if s := d.State; s != nil {
		o.State = runtime.ParseState(s.Status)
		o.ExitCode = int(s.ExitCode)
		o.StartedAt, o.FinishedAt = s.StartedAt, s.FinishedAt
		if o.State != runtime.StateExited && o.State != runtime.StateStopped {
			o.FinishedAt = time.Time{}
		}
		if h := s.Health; h != nil {
			o.Health = runtime.ParseHealth(h.Status)
		}
	}
	return o, nil
}

// Create implements runtime.Containers.
func (r *Runtime) Create(ctx context.Context, cs runtime.ContainerSpec) error {
	if err := cs.Validate(); err != nil {
		return err
	}
	if err := r.CheckHost(ctx, cs); err != nil {
		return err
	}
	sg := specgen.NewSpecGenerator(cs.Image, false)
	sg.Name = cs.Name
	sg.Entrypoint, sg.Command = cs.Entrypoint, cs.Command
	sg.Env, sg.Labels = cs.Env, cs.Labels
	sg.Secrets, sg.EnvSecrets = specSecrets(cs.Secrets)
	sg.CapAdd, sg.CapDrop = cs.CapAdd, cs.CapDrop
	sg.User = cs.User
	switch cs.Network.Mode {
	case runtime.NetworkHost:
		sg.NetNS = specgen.Namespace{NSMode: specgen.Host}
	case runtime.NetworkNamed:
		sg.NetNS = specgen.Namespace{NSMode: specgen.Bridge}
		sg.Networks = map[string]types.PerNetworkOptions{cs.Network.Name: {}}
	}
	for _, p := range cs.Ports {
		sg.PortMappings = append(sg.PortMappings, types.PortMapping{HostIP: p.HostIP, HostPort: p.HostPort,
			ContainerPort: p.ContainerPort, Range: max(p.Count, 1), Protocol: cmp.Or(p.Protocol, "tcp")})
	}
	for _, m := range cs.Mounts {
		var opts []string
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		if m.Relabel != "" {
			opts = append(opts, m.Relabel) // "z" or "Z": podman relabels the source for SELinux
		}
		switch m.Type {
		case runtime.MountVolume:
			sg.Volumes = append(sg.Volumes, &specgen.NamedVolume{Name: m.Source, Dest: m.Target, Options: opts})
		case runtime.MountBind:
			sg.Mounts = append(sg.Mounts, spec.Mount{Type: "bind", Source: m.Source, Destination: m.Target, Options: append(opts, "rbind")})
		}
	}
	if hc := cs.HealthCheck; hc != nil {
		sg.HealthConfig = &manifest.Schema2HealthConfig{Test: append([]string{"CMD"}, hc.Command...),
			Interval: hc.Interval, Timeout: hc.Timeout, StartPeriod: hc.StartPeriod, Retries: hc.Retries}
	}
	if cs.StopTimeout > 0 {
		secs := uint((cs.StopTimeout + time.Second - 1) / time.Second)
		sg.StopTimeout = &secs
	}
	sg.ResourceLimits = resourceLimits(cs.Resources)
	if err := r.createWithSpec(ctx, sg); err != nil {
		return fmt.Errorf("podman: create %s: %w", cs.Name, mapErr(err, runtime.ErrImageNotFound))
	}
	return nil
}

// createWithSpec is podman's container create from a spec generator.
func (r *Runtime) createWithSpec(ctx context.Context, sg *specgen.SpecGenerator) error {
	body, err := json.Marshal(sg)
	if err != nil {
		return err
	}
	return r.call(ctx, http.MethodPost, "/containers/create", nil, bytes.NewReader(body), nil)
}

// Start implements runtime.Containers.
func (r *Runtime) Start(ctx context.Context, name string) error {
	if err := r.call(ctx, http.MethodPost, "/containers/%s/start", nil, nil, nil, name); err != nil {
		return fmt.Errorf("podman: start %s: %w", name, mapErr(err, runtime.ErrNotFound))
	}
	return nil
}

// WaitExit implements runtime.ExitWaiter. It waits on a pidfd of the container's conmon, as
// podman's own wait call does on the server, but without holding a connection to the server
// (and a handler there) for the whole run: no thread is blocked, Go's poller watches the
// pidfd. When no pidfd can be had or proven to be the container's conmon (no pidfd_open, a
// podman whose processes this process does not see), it uses podman's wait call, whose poll
// interval (set long here) only paces how soon the server notices a caller that went away.
func (r *Runtime) WaitExit(ctx context.Context, name string) error {
	if answered, err := r.waitConmon(ctx, name); answered {
		return err
	}
	if _, err := r.wait(ctx, name, "10s"); err != nil {
		return waitErr(ctx, name, err)
	}
	return nil
}

// wait is podman's container wait until the container has exited or stopped, with the given
// poll interval ("": podman's default); it returns the container's exit code.
func (r *Runtime) wait(ctx context.Context, name, interval string) (int32, error) {
	query := url.Values{"condition": {"exited", "stopped"}}
	if interval != "" {
		query.Set("interval", interval)
	}
	var code int32
	err := r.call(ctx, http.MethodPost, "/containers/%s/wait", query, nil, &code, name)
	return code, err
}

// Stop implements runtime.Containers.
func (r *Runtime) Stop(ctx context.Context, name string, timeout time.Duration) error {
	query := url.Values{}
	if timeout > 0 {
		query.Set("timeout", seconds(uint((timeout+time.Second-1)/time.Second)))
	}
	if err := r.call(ctx, http.MethodPost, "/containers/%s/stop", query, nil, nil, name); err != nil {
		return fmt.Errorf("podman: stop %s: %w", name, mapErr(err, runtime.ErrNotFound))
	}
	return nil
}

// Kill implements runtime.Containers.
func (r *Runtime) Kill(ctx context.Context, name, signal string) error {
	query := url.Values{"signal": {cmp.Or(signal, "SIGKILL")}}
	if err := r.call(ctx, http.MethodPost, "/containers/%s/kill", query, nil, nil, name); err != nil {
		return fmt.Errorf("podman: kill %s: %w", name, mapErr(err, runtime.ErrNotFound))
	}
	return nil
}

// Remove implements runtime.Containers. Named volumes survive unless opts.Volumes; then the
// container's named volumes are removed after it (podman's own volumes=true covers anonymous
// volumes only).
func (r *Runtime) Remove(ctx context.Context, name string, opts runtime.RemoveOptions) error {
	var named []string
	if opts.Volumes {
		d, err := r.inspect(ctx, name)
		if err != nil {
			return fmt.Errorf("podman: remove %s: %w", name, mapErr(err, runtime.ErrNotFound))
		}
		for _, m := range d.Mounts {
			if m.Type == "volume" && m.Name != "" {
				named = append(named, m.Name)
			}
		}
	}
	query := url.Values{"force": {strconv.FormatBool(opts.Force)}, "volumes": {strconv.FormatBool(opts.Volumes)}}
	if err := r.removeContainer(ctx, name, query); err != nil {
		return fmt.Errorf("podman: remove %s: %w", name, mapErr(err, runtime.ErrNotFound))
	}
	for _, v := range named {
		if err := r.call(ctx, http.MethodDelete, "/volumes/%s", nil, nil, nil, v); err != nil {
			if errors.Is(mapErr(err, runtime.ErrNotFound), runtime.ErrNotFound) {
				continue
			}
			return fmt.Errorf("podman: remove volume %s of %s: %w", v, name, mapErr(err, runtime.ErrNotFound))
		}
	}
	return nil
}

// removeContainer is podman's container remove. Its answer lists one report, whose error is
// never set on success (podman answers an error status instead), so it is not decoded.
func (r *Runtime) removeContainer(ctx context.Context, name string, query url.Values) error {
	return r.call(ctx, http.MethodDelete, "/containers/%s", query, nil, nil, name)
}

// ImageExists implements runtime.Images.
func (r *Runtime) ImageExists(ctx context.Context, ref string) (bool, error) {
	ok, err := r.exists(ctx, "/images/%s/exists", ref)
	if err != nil {
		return false, fmt.Errorf("podman: image exists %s: %w", ref, mapErr(err, runtime.ErrImageNotFound))
	}
	return ok, nil
}

// RunHealthCheck implements runtime.HealthRunner (podman healthcheck run). While podman's record
// says healthy, a passing check runs without podman's service (see directexec.go).
func (r *Runtime) RunHealthCheck(ctx context.Context, name string) (runtime.Health, error) {
	if h, ok := r.directCheck(ctx, name); ok {
		return h, nil
	}
	var res define.HealthCheckResults
	if err := r.call(ctx, http.MethodGet, "/containers/%s/healthcheck", nil, nil, &res, name); err != nil {
		return runtime.HealthUnknown, fmt.Errorf("podman: healthcheck %s: %w", name, mapErr(err, runtime.ErrNotFound))
	}
	return runtime.ParseHealth(res.Status), nil
}
