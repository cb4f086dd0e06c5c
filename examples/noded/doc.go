// Command noded is skerry's example daemon against real Podman and systemd; see main.go. It
// builds only with the podman bindings' tags (see the README).
package main
