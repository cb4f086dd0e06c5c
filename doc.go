// Package skerry keeps the apps of a self-hosted node (bitcoin-core, lnd, electrs, btcpay,
// mempool and their companion web UIs) in their desired state on rootless Podman under the
// systemd user manager.
//
// This root package holds the Supervisor, what a daemon embedding skerry builds: New(runtime,
// unit manager, Options, apps...) validates everything before any side effect, and Run(ctx)
// does periodic, event-, exit- and unit-driven passes over the apps and their companions, runs
// the apps' exec checks (unless Options.EngineExecChecks), sweeps podman's stray check timers
// (when the unit manager can list units), reports every pass to one Options.OnReport, keeps a
// Status for a UI (Status, Subscribe), and returns within Options.ShutdownTimeout of ctx's end.
// Install and Uninstall change the set of apps at runtime.
//
// Its parts are the sub-packages, usable on their own, which compose like this:
//
//   - runtime defines what skerry needs from a container engine: the Runtime interface, its
//     optional capabilities (Renamer, ExitWaiter, HealthRunner, SecretStore, HostChecker,
//     ImageResolver), the engine-neutral ContainerSpec (ports, mounts, secrets, cgroup
//     limits) and Observation, spec validation, sentinel errors. runtime/fake implements it in
//     memory with fault injection, for tests; runtime/podman implements it over the Podman REST
//     API (with the bindings' build tags; without them it is a stub whose New fails).
//   - orchestrator decides and acts: the pure state machine Decide maps desired state and an
//     observation to one action; the Orchestrator observes a Runtime, stores the apps' secrets,
//     runs pre-start hooks (package hooks), executes the action and waits for health (package
//     health) before it reports success. A changed spec is an upgrade that keeps the old
//     container until the new one is ready, else rolls back and holds the app on its last good
//     release, across daemon restarts. A rotated secret or a changed rendered file reaches
//     exactly the containers that consume it. ReconcileAll
//     is one level-based pass over every app; WatchEvents reacts to engine events, container
//     exits and failed checks with per-app passes and, with Options.ScheduleExecChecks, runs
//     the apps' exec checks itself.
//   - quadlet renders Quadlet .container, .network and .volume units (pure, validated, gated by
//     podman version); quadlet/systemd drives the systemd manager over D-Bus and reconnects
//     when the bus comes back; companion installs, removes and reconciles companions as
//     .container units through both, so that systemd (Restart=always) supervises them even
//     when the embedding daemon is down. The companions' unit directory is the truth: a pass
//     finds the units it owns by their ownership marker, and every step is safe to crash after.
//   - reconciler runs passes: one at once, then every interval, and on Trigger; Keyed and Watch
//     turn an event stream into coalesced per-key passes; passes in flight at shutdown get a
//     grace, then are cancelled.
//
// The Example of this package is a whole daemon on the fakes; examples/simulate runs one
// anywhere, examples/noded against real Podman and systemd.
package skerry
