package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// ContainerSpec is an engine-neutral description of one container. Validate it before use;
// adapters assume a valid spec.
type ContainerSpec struct {
	// Name is the container name: 1-63 of [a-z0-9_.-], starting with a letter or digit. It
	// becomes a unit name too, so the charset is the intersection of both.
	Name string
	// Image is a fully qualified or local image reference ("localhost/busybox:latest").
	Image string
	// Entrypoint overrides the image's entrypoint when non-empty.
	Entrypoint []string
	// Command overrides the image's command when non-empty.
	Command []string
	// Env holds environment variables. Values may be secrets: they are never logged or put in
	// error strings.
	Env map[string]string
	// Secrets are stored secrets handed to the container by reference (see SecretRef): the
	// way to give a container a password without its value entering the spec. (omitempty: a
	// spec without secrets keeps the SpecHash it had before this field existed.)
	Secrets []SecretRef `json:",omitempty"`
	// Network selects host, bridge (the engine's default) or a named network.
	Network Network
	// Ports are published ports; ignored with host networking.
	Ports []Port
	// Mounts are named volumes and bind mounts.
	Mounts []Mount
	// CapAdd and CapDrop are capability names ("NET_BIND_SERVICE" or "CAP_NET_BIND_SERVICE";
	// "ALL" is allowed in CapDrop).
	CapAdd  []string
	CapDrop []string
	// User is "uid[:gid]" or a user name; "" keeps the image's.
	User string
	// Labels are extra labels; keys starting with "io.skerry." are skerry's own (see
	// IsReservedLabel).
	Labels map[string]string
	// HealthCheck is the engine-native health check; nil means none.
	HealthCheck *HealthCheck
	// StopTimeout is how long Stop waits before killing; 0 means the engine's default.
	StopTimeout time.Duration
	// Resources are the container's cgroup limits (memory, CPU, pids). (omitzero: a spec
	// without limits keeps the SpecHash it had before this field existed.)
	Resources Resources `json:",omitzero"`
}

// NetworkMode is how a container is networked. The zero value is NetworkBridge.
type NetworkMode int

// The network modes.
const (
	NetworkBridge NetworkMode = iota
	NetworkHost
	NetworkNamed
)

// Network is a container's networking.
type Network struct {
	Mode NetworkMode
	// Name is the network's name, required with NetworkNamed only.
	Name string
}

// Port is a published port, or a range of Count ports starting at HostPort/ContainerPort.
type Port struct {
	// HostIP binds to one address ("" = all).
	HostIP        string
	HostPort      uint16
	ContainerPort uint16
	// Count is the length of the range; 0 and 1 both mean a single port.
	Count uint16
	// Protocol is "tcp" (default when "") or "udp".
	Protocol string
}

// MountType is the kind of a Mount. The zero value is MountVolume.
type MountType int

// The mount types.
const (
	MountVolume MountType = iota
	MountBind
)

// Mount is a named volume or a bind mount.
type Mount struct {
	Type MountType
	// Source is the volume name (MountVolume) or an absolute host path (MountBind).
	Source string
	// Target is the absolute path inside the container.
	Target   string
	ReadOnly bool
	// Relabel asks the engine to relabel the source for SELinux: RelabelShared (":z", content
	// shared by several containers) or RelabelPrivate (":Z", this container only); "" leaves
	// the label alone. Without SELinux on the host the engine ignores it. Never relabel a
	// system directory (/, /usr, /home): ":Z" on a shared path locks other users out.
	Relabel string `json:",omitempty"`
}

// The SELinux relabel options of a Mount.
const (
	RelabelShared  = "z"
	RelabelPrivate = "Z"
)

// HealthCheck is a native, engine-run health check: Command runs inside the container and
// exit status 0 means healthy. The engine records each result and counts Retries.
type HealthCheck struct {
	Command []string
	// Interval is how often the engine runs the check on its own. 0 means never: the check runs
	// only when asked (HealthRunner), and the container's health stays "starting" until then.
	Interval    time.Duration
	Timeout     time.Duration
	StartPeriod time.Duration
	// Retries is the number of consecutive failures that make the container unhealthy.
	Retries int
}

// SpecHash returns a stable digest of spec (the first 16 hex digits of a SHA-256 over its JSON
// encoding; map keys are sorted by encoding/json). A container whose LabelSpecHash differs from
// the desired spec's hash has drifted. Labels in the io.skerry. namespace are left out, so that
// adding the hash label does not change the hash.
func SpecHash(spec ContainerSpec) string {
	if len(spec.Labels) > 0 {
		user := make(map[string]string, len(spec.Labels))
		for k, v := range spec.Labels {
			if !IsReservedLabel(k) {
				user[k] = v
			}
		}
		spec.Labels = user
		if len(user) == 0 {
			spec.Labels = nil // nil and "only skerry's labels" hash alike
		}
	}
	b, err := json.Marshal(spec)
	if err != nil {
		panic("runtime: ContainerSpec is not JSON-encodable: " + err.Error()) // all fields are plain data
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
