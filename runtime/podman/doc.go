// Package podman implements runtime.Runtime over the Podman REST API with the podman v5
// bindings (github.com/containers/podman/v5/pkg/bindings), including the optional event,
// health-run and log capabilities.
//
// The bindings compile only with cgo off and build tags:
//
//	CGO_ENABLED=0 go build -tags "containers_image_openpgp exclude_graphdriver_btrfs remote"
//
// Without those tags this package is empty, so that the rest of skerry builds and tests with no
// tags at all. The bindings are pinned to v5.4.2, the oldest server skerry supports and the
// version of its integration host (Debian trixie), so the client is never newer than the
// server; see the README for the supported server versions.
package podman
