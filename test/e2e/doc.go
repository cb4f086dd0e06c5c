// Package e2e holds skerry's end-to-end tests against real rootless Podman and the real systemd
// user manager. They need the integration environment and build tags:
//
//	sudo bash test/itest/run.sh
//
// The package has no code of its own.
package e2e
