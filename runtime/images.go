package runtime

import "context"

// ImageResolver is implemented by runtimes that can say which local image a reference names
// now. A container whose Observation.ImageID differs from the ID its spec's tag resolves to
// runs an image the tag no longer names (the tag moved: a pull or build replaced it), which
// the orchestrator can treat as drift, as a changed spec.
type ImageResolver interface {
	// ImageID returns the ID of the local image ref names, or an error wrapping
	// ErrImageNotFound when there is none.
	ImageID(ctx context.Context, ref string) (string, error)
}

// PullProgress is how far a pull has come, as the engine reports it.
type PullProgress struct {
	// Ref is the reference being pulled.
	Ref string
	// Layers is the number of layer blobs the engine has started copying (those already
	// present locally included); Config is true once it copies the image's configuration,
	// which follows the layers.
	Layers int
	Config bool
	// Bytes is the number of bytes copied, -1 when the engine does not report bytes (podman's
	// libpod pull API reports one line per blob, without sizes).
	Bytes int64
	// Message is the engine's last progress line ("Copying blob sha256:...").
	Message string
}
