// Package podman implements runtime.Runtime over the Podman REST API with the podman v5
// bindings (github.com/containers/podman/v5/pkg/bindings), including the optional event,
// exit-wait, health-run, log, rename and secret-store capabilities.
//
// # Build tags
//
// The adapter is compiled only with three build tags, cgo on or off:
//
//	go build -tags "remote containers_image_openpgp exclude_graphdriver_btrfs"
//
// They are needed by the bindings' dependencies, not by this package: containers_image_openpgp
// replaces gpgme (a cgo library, so without the tag a build needs cgo and libgpgme's headers),
// exclude_graphdriver_btrfs drops containers/storage's btrfs driver (which needs the btrfs
// headers when cgo is on), and remote is podman's tag for client builds (it leaves libimage
// and more out of the build).
//
// Without the three tags this package compiles to a stub with the same API (nobindings.go,
// generated from the adapter's files and checked by a test): New fails with an error naming
// the tags. So the rest of skerry builds and tests with no tags and without podman in its build
// graph, and go doc shows the adapter's API.
//
// # Version selection
//
// skerry's go.mod requires the bindings at v5.4.2, the oldest server skerry supports and the
// version of its integration host (Debian trixie). Under Go's minimal version selection that
// is a minimum: a build uses the highest version any module in it requires, so a program that
// requires a newer podman v5 (directly or through another dependency) gets a newer client, and
// a client newer than its server can call endpoints or send fields the server lacks. See which
// version a build selected with `go list -m github.com/containers/podman/v5`.
package podman
