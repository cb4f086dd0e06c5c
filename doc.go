// Package skerry keeps the apps of a self-hosted node (bitcoin-core, lnd, electrs, btcpay,
// mempool and their companion web UIs) in their desired state on rootless Podman under the
// systemd user manager. This root package holds only documentation; the library is its
// sub-packages, which compose like this:
//
//   - runtime defines what skerry needs from a container engine (the Runtime interface, the
//     engine-neutral ContainerSpec and Observation, spec validation, sentinel errors).
//     runtime/fake implements it in memory with fault injection, for tests; runtime/podman
//     implements it over the Podman REST API.
//   - orchestrator decides and acts: the pure state machine Decide maps desired state and an
//     observation to one action; the Orchestrator observes a Runtime, runs pre-start hooks
//     (package hooks), executes the action and waits for health (package health) before it
//     reports success. ReconcileAll is one level-based pass over every app, one runtime call when
//     nothing needs doing. WatchEvents reacts to engine events and container exits with per-app
//     passes and, with Options.ScheduleExecChecks, runs the apps' exec checks itself.
//   - quadlet renders companion containers as Quadlet .container units (pure), quadlet/systemd
//     drives the systemd manager over D-Bus, and companion installs, removes and reconciles
//     companions through both, so that systemd (Restart=always) supervises them even when the
//     embedding daemon crashes.
//   - reconciler runs passes: one at once, then every interval, and on Trigger; Keyed and Watch
//     turn an event stream into coalesced per-app passes (Orchestrator.WatchEvents wires them).
//
// A daemon wires them as examples/simulate shows (fake runtime, runs anywhere) and
// examples/noded does against real Podman and systemd.
package skerry
