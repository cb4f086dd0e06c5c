//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/containers/common/libnetwork/types"
	"github.com/containers/image/v5/manifest"
	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/bindings/system"
	"github.com/containers/podman/v5/pkg/bindings/volumes"
	"github.com/containers/podman/v5/pkg/domain/entities"
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

// with returns a context carrying the connection and ctx's deadline and cancellation.
func (r *Runtime) with(ctx context.Context) context.Context {
	return &connCtx{Context: ctx, conn: r.conn}
}

// connCtx is ctx with the bindings' client value looked up in the connection context.
type connCtx struct {
	context.Context
	conn context.Context
}

func (c *connCtx) Value(key any) any {
	if v := c.conn.Value(key); v != nil {
		return v
	}
	return c.Context.Value(key)
}

// List implements runtime.Containers with one label-filtered call; health comes from the list's
// Status field, which the libpod API fills with the health-check status.
func (r *Runtime) List(ctx context.Context, opts runtime.ListOptions) ([]runtime.Observation, error) {
	var labels []string
	for _, k := range slices.Sorted(maps.Keys(opts.Labels)) {
		labels = append(labels, k+"="+opts.Labels[k])
	}
	lo := new(containers.ListOptions).WithAll(true)
	if len(labels) > 0 {
		lo = lo.WithFilters(map[string][]string{"label": labels})
	}
	list, err := containers.List(r.with(ctx), lo)
	if err != nil {
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

// Inspect implements runtime.Containers.
func (r *Runtime) Inspect(ctx context.Context, name string) (runtime.Observation, error) {
	d, err := containers.Inspect(r.with(ctx), name, nil)
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
	if _, err := containers.CreateWithSpec(r.with(ctx), sg, nil); err != nil {
		return fmt.Errorf("podman: create %s: %w", cs.Name, mapErr(err, runtime.ErrImageNotFound))
	}
	return nil
}

// Start implements runtime.Containers.
func (r *Runtime) Start(ctx context.Context, name string) error {
	if err := containers.Start(r.with(ctx), name, nil); err != nil {
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
	interval := "10s"
	opts := &containers.WaitOptions{Conditions: []string{"exited", "stopped"}, Interval: &interval}
	if _, err := containers.Wait(r.with(ctx), name, opts); err != nil {
		return waitErr(ctx, name, err)
	}
	return nil
}

// Stop implements runtime.Containers.
func (r *Runtime) Stop(ctx context.Context, name string, timeout time.Duration) error {
	opts := new(containers.StopOptions)
	if timeout > 0 {
		opts = opts.WithTimeout(uint((timeout + time.Second - 1) / time.Second))
	}
	if err := containers.Stop(r.with(ctx), name, opts); err != nil {
		return fmt.Errorf("podman: stop %s: %w", name, mapErr(err, runtime.ErrNotFound))
	}
	return nil
}

// Kill implements runtime.Containers.
func (r *Runtime) Kill(ctx context.Context, name, signal string) error {
	if err := containers.Kill(r.with(ctx), name, new(containers.KillOptions).WithSignal(cmp.Or(signal, "SIGKILL"))); err != nil {
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
		d, err := containers.Inspect(r.with(ctx), name, nil)
		if err != nil {
			return fmt.Errorf("podman: remove %s: %w", name, mapErr(err, runtime.ErrNotFound))
		}
		for _, m := range d.Mounts {
			if m.Type == "volume" && m.Name != "" {
				named = append(named, m.Name)
			}
		}
	}
	ro := new(containers.RemoveOptions).WithForce(opts.Force).WithVolumes(opts.Volumes)
	reports, err := containers.Remove(r.with(ctx), name, ro)
	if err == nil {
		for _, rep := range reports {
			if rep.Err != nil {
				err = rep.Err
			}
		}
	}
	if err != nil {
		return fmt.Errorf("podman: remove %s: %w", name, mapErr(err, runtime.ErrNotFound))
	}
	for _, v := range named {
		if err := volumes.Remove(r.with(ctx), v, nil); err != nil {
			if errors.Is(mapErr(err, runtime.ErrNotFound), runtime.ErrNotFound) {
				continue
			}
			return fmt.Errorf("podman: remove volume %s of %s: %w", v, name, mapErr(err, runtime.ErrNotFound))
		}
	}
	return nil
}

// ImageExists implements runtime.Images.
func (r *Runtime) ImageExists(ctx context.Context, ref string) (bool, error) {
	ok, err := images.Exists(r.with(ctx), ref, nil)
	if err != nil {
		return false, fmt.Errorf("podman: image exists %s: %w", ref, mapErr(err, runtime.ErrImageNotFound))
	}
	return ok, nil
}

// Build implements runtime.Images.
func (r *Runtime) Build(ctx context.Context, opts runtime.BuildOptions) error {
	file := cmp.Or(opts.Containerfile, "Containerfile")
	bo := entities.BuildOptions{}
	bo.ContextDirectory = opts.ContextDir
	bo.Output = opts.Tag
	bo.Out, bo.Err, bo.ReportWriter = io.Discard, io.Discard, io.Discard
	if _, err := images.Build(r.with(ctx), []string{file}, bo); err != nil {
		return fmt.Errorf("podman: build %s: %w", opts.Tag, mapErr(err, runtime.ErrNotFound))
	}
	return nil
}

// RunHealthCheck implements runtime.HealthRunner (podman healthcheck run). While podman's record
// says healthy, a passing check runs without podman's service (see directexec.go).
func (r *Runtime) RunHealthCheck(ctx context.Context, name string) (runtime.Health, error) {
	if h, ok := r.directCheck(ctx, name); ok {
		return h, nil
	}
	res, err := containers.RunHealthCheck(r.with(ctx), name, nil)
	if err != nil {
		return runtime.HealthUnknown, fmt.Errorf("podman: healthcheck %s: %w", name, mapErr(err, runtime.ErrNotFound))
	}
	return runtime.ParseHealth(res.Status), nil
}

// Logs implements runtime.LogReader.
func (r *Runtime) Logs(ctx context.Context, name string, tail int) ([]string, error) {
	out, errc := make(chan string, 64), make(chan string, 64)
	done := make(chan error, 1)
	go func() {
		done <- containers.Logs(r.with(ctx), name,
			new(containers.LogOptions).WithStdout(true).WithStderr(true).WithTail(strconv.Itoa(tail)), out, errc)
	}()
	var lines []string
	for {
		select {
		case l := <-out:
			lines = append(lines, l)
		case l := <-errc:
			lines = append(lines, l)
		case err := <-done:
			for drained := false; !drained; { // lines sent before Logs returned
				select {
				case l := <-out:
					lines = append(lines, l)
				case l := <-errc:
					lines = append(lines, l)
				default:
					drained = true
				}
			}
			if err != nil {
				return lines, fmt.Errorf("podman: logs %s: %w", name, mapErr(err, runtime.ErrNotFound))
			}
			if tail > 0 && len(lines) > tail {
				lines = lines[len(lines)-tail:]
			}
			return lines, nil
		}
	}
}

// Events implements runtime.EventSource: container events of managed containers, until ctx ends
// or the stream breaks (the channel is closed then; callers reconnect). An error means the
// stream could not be opened.
func (r *Runtime) Events(ctx context.Context) (<-chan runtime.Event, error) {
	raw := make(chan entities.Event, 64)
	cancel := make(chan bool)
	opts := new(system.EventsOptions).WithStream(true).WithFilters(map[string][]string{
		"type":  {"container"},
		"label": {runtime.LabelManaged + "=true"},
	})
	// system.Events returns once the stream is open; a goroutine of the bindings then decodes
	// into raw and closes it when the stream ends.
	if err := system.Events(r.with(ctx), raw, cancel, opts); err != nil {
		return nil, fmt.Errorf("podman: events: %w", mapErr(err, runtime.ErrNotFound))
	}
	out := make(chan runtime.Event, 64)
	go func() {
		defer close(out)
		stopped := false
		stop := func() {
			if !stopped {
				stopped = true
				close(cancel) // closes the response body, which ends the decoder
			}
		}
		defer stop()
		for {
			select {
			case <-ctx.Done():
				stop()
				for range raw { // let the decoder finish its last send and close raw
				}
				return
			case e, ok := <-raw:
				if !ok {
					return
				}
				ev := runtime.Event{Container: e.Actor.Attributes["name"], App: e.Actor.Attributes[runtime.LabelApp],
					Kind: string(e.Action), Time: time.Unix(0, e.TimeNano)}
				if e.HealthStatus != "" {
					ev.Health = runtime.ParseHealth(e.HealthStatus)
				}
				select {
				case out <- ev:
				case <-ctx.Done():
				}
			}
		}
	}()
	return out, nil
}
