// Package quadlet owns the Quadlet .container unit: a typed model, a pure and deterministic
// renderer that escapes every value for the Quadlet parser and systemd, validation, version
// gating for the target podman, and the atomic write-if-changed of rendered units. It does no
// I/O except in WriteIfChanged and Remove and imports only the standard library.
package quadlet

import "time"

// Unit is a Quadlet .container unit. Fields are rendered in a fixed order; zero values are left
// out, so a zero field means "podman's or systemd's default".
type Unit struct {
	// [Unit]
	Description string
	// After, Wants, Requires, BindsTo and PartOf name other units ("network-online.target").
	After, Wants, Requires, BindsTo, PartOf []string
	// StartLimitBurst starts within StartLimitInterval make systemd give up (defaults 5 in 10 s).
	StartLimitBurst    int
	StartLimitInterval time.Duration

	Container Container
	Service   Service

	// [Install] WantedBy: "default.target" enables the unit for the user manager.
	WantedBy []string
}

// Container is the [Container] section. Each field documents its Quadlet key.
type Container struct {
	Image         string // Image= (required)
	ContainerName string // ContainerName=
	// Exec= is the command (arguments after the image).
	Exec []string
	// Entrypoint= overrides the image's entrypoint (one string, as podman --entrypoint).
	Entrypoint string
	// Network= values: "host", "bridge", "none", a network name, or "name.network".
	Network      []string
	NetworkAlias []string // NetworkAlias= (podman 5.2)
	// PublishPort= values: "[[ip:][hostPort]:]containerPort[/protocol]", e.g. "127.0.0.1:3002:80".
	PublishPort []string
	// Volume= values: "source:target[:options]"; source is a volume name or absolute path.
	Volume []string
	// Mount= values in podman --mount syntax: "type=bind,source=/a,destination=/b,ro".
	Mount           []string
	Tmpfs           []string          // Tmpfs= values: "/path[:options]"
	Environment     map[string]string // Environment= (values may be secrets: never in errors)
	EnvironmentFile []string          // EnvironmentFile= absolute paths
	Secret          []string          // Secret= values: "name[,opt=value...]"
	Label           map[string]string // Label=
	Annotation      map[string]string // Annotation=
	AddCapability   []string          // AddCapability= ("NET_BIND_SERVICE")
	DropCapability  []string          // DropCapability= ("ALL")
	NoNewPrivileges bool              // NoNewPrivileges=true
	ReadOnly        bool              // ReadOnly=true
	// ReadOnlyTmpfs= is emitted when non-nil (podman defaults it to true with ReadOnly).
	ReadOnlyTmpfs *bool
	User          string   // User=
	Group         string   // Group=
	UserNS        string   // UserNS= ("keep-id", "auto", ...)
	WorkingDir    string   // WorkingDir=
	HostName      string   // HostName=
	AddHost       []string // AddHost= values "host:ip" (podman 5.3)
	DNS           []string // DNS= server addresses

	// HealthCmd= rendered as a JSON array: two or more words run directly; a single word runs
	// through a shell (podman's rule for --health-cmd).
	HealthCmd         []string
	HealthInterval    time.Duration // HealthInterval=
	HealthTimeout     time.Duration // HealthTimeout=
	HealthStartPeriod time.Duration // HealthStartPeriod=
	HealthRetries     int           // HealthRetries=
	// HealthOnFailure= is one of none, kill, restart, stop.
	HealthOnFailure string
	// Notify= is "" (conmon notifies), "true" (the container does) or "healthy" (startup completes
	// when the health check first passes).
	Notify string
	// PidsLimit= is emitted when non-nil; -1 means unlimited.
	PidsLimit *int64
	// Memory= is a podman memory size ("512m") (podman 5.5).
	Memory string
	// StopTimeout= in whole seconds (rounded up); 0 keeps podman's default (10 s).
	StopTimeout time.Duration
	StopSignal  string // StopSignal= ("SIGTERM") (podman 5.2)
	LogDriver   string // LogDriver= ("journald", "k8s-file", "none", "passthrough")
	AutoUpdate  string // AutoUpdate= ("registry" or "local")
	Pull        string // Pull= ("always", "missing", "never", "newer")
	// PodmanArgs= is the escape hatch: extra arguments for podman run, one word each.
	PodmanArgs []string
}

// Service is the [Service] section of the generated service.
type Service struct {
	// Restart= one of no, on-success, on-failure, on-abnormal, on-watchdog, on-abort, always.
	// Quadlet never sets it; companions use "always".
	Restart         string
	RestartSec      time.Duration // RestartSec=
	TimeoutStartSec time.Duration // TimeoutStartSec= (image pulls can exceed systemd's 90 s)
}
