// Package fault holds skerry's fault campaign against real rootless Podman and the real systemd
// user manager: a small daemon embedding skerry (this test binary, re-executed as a child) is
// SIGKILLed at seeded random moments over bring-up, config rotation, upgrade (with rollback) and
// uninstall, restarted with a release that cannot start, and run through podman and D-Bus
// outages, daemon-reload storms and a read-only unit directory; after each fault the node's
// invariants are checked. One app owns a network (orchestrator.App.Networks) that the other app
// and its companion join by name: it must exist with skerry's labels while its app is installed
// and be gone after an uninstall (kept while a container the test attached by hand uses it, and
// removed by the next pass once free); a SIGKILL between the app's container removal and its
// network's (hit at random, and made by hand) must converge at the first pass of a daemon that
// no longer supervises the app. A second test sends SIGTERM at random moments and checks the daemon's
// shutdown bound. They need the integration environment and build tags:
//
//	sudo ITEST_PKGS='test/fault$' ITEST_SKIP_NODED=1 bash test/itest/run.sh
//
// Knobs (pass them into the environment with SKERRY_ITEST_PASSENV="SKERRY_FAULT_SEED=42 ..."):
// SKERRY_FAULT_SEED (default: from the clock; printed at start and on failure), SKERRY_FAULT_N
// (SIGKILLs, default 20), SKERRY_FAULT_SIGTERM_N (SIGTERMs, default 6), SKERRY_FAULT_BUDGET
// (the campaign's time budget, default 8m: with the SIGTERM test the package stays within 10
// minutes), SKERRY_FAULT_ENGINE_CHECKS=1 (podman's check timers instead of the supervisor's
// scheduled checks).
//
// The package has no code of its own.
package fault
