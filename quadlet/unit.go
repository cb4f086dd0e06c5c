// Package quadlet owns the Quadlet .container, .network and .volume units: typed models of every
// non-deprecated key of podman 5.8, pure and deterministic renderers that validate and escape
// every value so that podman's parser, the Quadlet generators (5.4 to 5.8) and systemd read it as
// written (or refuse it with an *Error naming the field and the rule), version gating for the
// target podman, and the atomic write-if-changed of rendered units. It does no I/O except in
// WriteIfChanged and Remove and imports only the standard library.
package quadlet

import "time"

// Unit is a Quadlet .container unit. Fields are rendered in a fixed order; zero values are left
// out, so a zero field means "podman's or systemd's default".
type Unit struct {
	// [Unit]
	Description string
	// After, Before, Wants, Requires, BindsTo, PartOf, Conflicts and PropagatesStopTo name other
	// units ("network-online.target", or a Quadlet unit such as "btc.network").
	After, Before, Wants, Requires, BindsTo, PartOf, Conflicts, PropagatesStopTo []string
	// StartLimitBurst starts within StartLimitInterval make systemd give up (defaults 5 in 10 s).
	StartLimitBurst    int
	StartLimitInterval time.Duration

	// DefaultDependencies is [Quadlet] DefaultDependencies=: false drops the dependency on
	// network-online.target Quadlet adds by default; nil keeps Quadlet's default.
	DefaultDependencies *bool

	Container Container
	Service   Service

	// [Install] WantedBy: "default.target" enables the unit for the user manager.
	WantedBy []string
	// [Install] RequiredBy, UpheldBy and Alias name units, as WantedBy does; an Alias may sit in
	// a subdirectory ("dir/alias.service"), where Quadlet links it.
	RequiredBy, UpheldBy, Alias []string
	// [Install] DefaultInstance= is the instance of a template unit ("name@.container") that
	// enabling starts.
	DefaultInstance string
}

// Container is the [Container] section: every key of podman 5.8's Quadlet except the deprecated
// RemapUsers, RemapUid, RemapGid, RemapUidSize and VolatileTmp. Each field documents its key;
// keys newer than podman 5.0 name the release that added them, and Render refuses them (or,
// with Options.Downgrade, passes the equivalent podman flag) for an older target. A value is
// never an empty string or word, never exactly ";" (systemd's command separator), never holds
// NUL, a C1 control (U+0080..U+009F) or invalid UTF-8, and only the word-valued keys (Exec,
// PodmanArgs, GlobalArgs, ReloadCmd, Mount, Secret, EnvironmentFile, Mask, Unmask and the
// Environment, Label and Annotation values) carry the other C0 controls (as C escapes): Render
// refuses anything else with an *Error naming the field and the rule. Every '%' and '$' is
// written as a literal, but a systemd directory specifier starting a host path ("%h/data").
type Container struct {
	Image string // Image= (required unless Rootfs is set)
	// Rootfs= runs the container from a host directory instead of an image (not with Image).
	Rootfs        string
	ContainerName string // ContainerName=
	// Exec= is the command (arguments after the image).
	Exec []string
	// Entrypoint= overrides the image's entrypoint (one string, as podman --entrypoint).
	Entrypoint string
	// Network= values: "host", "bridge", "none", a network name, or "name.network".
	Network      []string
	NetworkAlias []string // NetworkAlias= (podman 5.2)
	IP           string   // IP= static IPv4 address
	IP6          string   // IP6= static IPv6 address
	// PublishPort= values: "[[ip:][hostPort]:]containerPort[/protocol]", e.g. "127.0.0.1:3002:80".
	PublishPort []string
	// ExposeHostPort= values: "port[-port][/tcp|/udp]".
	ExposeHostPort []string
	// Volume= values: "[source:]target[:options]"; source is a volume name, "name.volume", or a
	// clean host path of [A-Za-z0-9._@+~/-] (Quadlet copies it into RequiresMountsFor=): absolute,
	// under a systemd directory specifier ("%h/data": the user's home; also %t, %S, %C, %E, %T,
	// %V, kept for systemd to expand), or relative to the unit's directory ("./data").
	Volume []string
	// Mount= values in podman --mount syntax: "type=bind,source=/a,destination=/b,ro"; checked
	// against podman's mount grammar (type, options, a source where Quadlet needs one).
	Mount       []string
	Tmpfs       []string          // Tmpfs= values: "/path[:options]"
	Environment map[string]string // Environment= (values may be secrets: never in errors)
	// EnvironmentFile= paths of [A-Za-z0-9._@+~/-]: absolute, under a directory specifier
	// ("%h/app.env", kept for systemd to expand), or relative to the unit's directory.
	EnvironmentFile []string
	// EnvironmentHost= passes the host's environment (--env-host) when non-nil.
	EnvironmentHost *bool
	Secret          []string          // Secret= values: "name[,opt=value...]"
	Label           map[string]string // Label=
	Annotation      map[string]string // Annotation=
	AddCapability   []string          // AddCapability= ("NET_BIND_SERVICE")
	DropCapability  []string          // DropCapability= ("ALL")
	// AddDevice= values: "[-]/dev/host[:/dev/container][:perms]"; a leading "-" skips a missing device.
	AddDevice       []string
	NoNewPrivileges bool // NoNewPrivileges=true
	ReadOnly        bool // ReadOnly=true
	// ReadOnlyTmpfs= is emitted when non-nil (podman defaults it to true with ReadOnly).
	ReadOnlyTmpfs *bool
	// RunInit= runs an init process as PID 1 (--init) when non-nil.
	RunInit *bool
	// User= and Group= (Group needs User: Quadlet refuses a Group alone).
	User, Group string
	// GroupAdd= supplementary groups ("keep-groups", "wheel") (podman 5.1).
	GroupAdd []string
	UserNS   string // UserNS= ("keep-id", "auto", ...)
	// UIDMap= and GIDMap= values "container:host:size" (podman --uidmap/--gidmap).
	UIDMap, GIDMap []string
	// SubUIDMap= and SubGIDMap= name an /etc/subuid and /etc/subgid entry.
	SubUIDMap, SubGIDMap string
	WorkingDir           string   // WorkingDir=
	HostName             string   // HostName=
	AddHost              []string // AddHost= values "host:ip" (podman 5.3)
	DNS                  []string // DNS= server addresses
	DNSOption            []string // DNSOption= ("ndots:1")
	DNSSearch            []string // DNSSearch= domains
	// Pod= is the Quadlet pod ("name.pod") the container joins; StartWithPod= (podman 5.3)
	// false keeps the pod from starting it.
	Pod          string
	StartWithPod *bool

	// HealthCmd= rendered as a JSON array: two or more words run directly; a single word runs
	// through a shell (podman's rule for --health-cmd).
	HealthCmd         []string
	HealthInterval    time.Duration // HealthInterval=
	HealthTimeout     time.Duration // HealthTimeout=
	HealthStartPeriod time.Duration // HealthStartPeriod=
	HealthRetries     int           // HealthRetries=
	// HealthOnFailure= is one of none, kill, restart, stop.
	HealthOnFailure string
	// HealthLogDestination= is "local", "events_logger" or a directory (podman 5.3).
	HealthLogDestination string
	// HealthMaxLogCount= and HealthMaxLogSize= when non-nil; 0 means unlimited (podman 5.3).
	HealthMaxLogCount, HealthMaxLogSize *int
	// HealthStartupCmd= is the startup check, encoded as HealthCmd is.
	HealthStartupCmd      []string
	HealthStartupInterval time.Duration // HealthStartupInterval=
	HealthStartupTimeout  time.Duration // HealthStartupTimeout=
	HealthStartupRetries  int           // HealthStartupRetries=
	HealthStartupSuccess  int           // HealthStartupSuccess=
	// Notify= is "" (conmon notifies), "true" (the container does) or "healthy" (startup completes
	// when the health check first passes: HealthCmd's, or the image's own).
	Notify string
	// PidsLimit= is emitted when non-nil; -1 means unlimited.
	PidsLimit *int64
	// Memory= is a podman memory size ("512m") (podman 5.5).
	Memory string
	// ShmSize= is the size of /dev/shm ("64m").
	ShmSize string
	// Ulimit= values "name=soft[:hard]" ("nofile=1024:2048").
	Ulimit []string
	// Sysctl= values "name=value".
	Sysctl []string
	// StopTimeout= in whole seconds (rounded up); 0 keeps podman's default (10 s).
	StopTimeout time.Duration
	StopSignal  string // StopSignal= ("SIGTERM") (podman 5.2)
	// ReloadCmd= (podman 5.5) is what "systemctl reload" runs in the container; ReloadSignal=
	// (podman 5.5) the signal it sends instead. At most one of them.
	ReloadCmd    []string
	ReloadSignal string
	LogDriver    string // LogDriver= ("journald", "k8s-file", "none", "passthrough")
	// LogOpt= values "name=value" (podman 5.2).
	LogOpt     []string
	AutoUpdate string // AutoUpdate= ("registry" or "local")
	Pull       string // Pull= ("always", "missing", "never", "newer")
	// Retry= (podman 5.5) pull attempts when non-nil; RetryDelay= (podman 5.5) the pause between them.
	Retry      *int
	RetryDelay time.Duration
	// HttpProxy= (podman 5.7) passes the host's proxy variables when non-nil.
	HttpProxy *bool
	Timezone  string // Timezone= ("local", "Europe/Zurich")
	// CgroupsMode= ("split" is Quadlet's default, "no-conmon", "enabled", "disabled") (podman 5.3).
	CgroupsMode string

	// Security: SeccompProfile= (a path, or "unconfined"), AppArmor= (a profile, podman 5.8),
	// Mask= and Unmask= (paths, "a:b" lists, Unmask also "ALL"), and the SELinux label keys.
	SeccompProfile        string
	AppArmor              string
	Mask, Unmask          []string
	SecurityLabelDisable  bool // SecurityLabelDisable=true
	SecurityLabelNested   bool // SecurityLabelNested=true
	SecurityLabelType     string
	SecurityLabelFileType string
	SecurityLabelLevel    string

	// ServiceName= (podman 5.3) names the generated service (ServiceName+".service") instead
	// of the file's base name.
	ServiceName string
	// ContainersConfModule= values are containers.conf modules for podman (--module).
	ContainersConfModule []string
	// GlobalArgs= are podman's global arguments (before "run"), one word each.
	GlobalArgs []string
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
	// TimeoutStopSec= bounds a stop (systemd's default: 90 s). A unit stopped while it starts
	// (for Notify=healthy: before its first passing check) skips ExecStop, the podman rm that
	// honours StopTimeout: systemd sends SIGTERM to conmon, which forwards it to the container's
	// PID 1; one that ignores SIGTERM is killed only when TimeoutStopSec ends.
	TimeoutStopSec time.Duration
	// Type= is "" (Quadlet's notify), "notify" or "oneshot" (Quadlet accepts no other).
	Type string
}
