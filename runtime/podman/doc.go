// Package podman implements runtime.Runtime over the Podman REST API with the podman v5
// bindings' connection (github.com/containers/podman/v5/pkg/bindings), including the optional
// event, exit-wait, health-run, log, rename and secret-store capabilities.
//
// # Footprint
//
// The calls are made with the bindings' connection and podman's own request types (specgen,
// libpod/define, libnetwork/types), but not through the bindings' per-resource packages
// (bindings/containers, bindings/images, bindings/system, ...): those import podman's domain
// entities, and with them containers/image, containers/storage, buildah and their dependencies,
// which made a program using the adapter 21 MB larger and cost it ~16 MB of resident memory
// at start-up (binary pages touched by package initialization, and its heap), for a dozen
// calls. Each call here sends the request the bindings' function sends (a test compares them).
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
