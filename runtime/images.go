package runtime

import (
	"context"
	"errors"
)

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

// ErrImageInUse: a container (running or not) uses the image, which is not removed.
var ErrImageInUse = errors.New("image in use by a container")

// Image is a local image as an ImagePruner lists it.
type Image struct {
	ID string
	// Names are the references that name it now ("localhost/app:1"); History the references
	// that named it, newest first (podman's NamesHistory): an image a moved tag left behind has
	// no name any more but keeps the tag there.
	Names, History []string
	// Containers is the number of containers, running or not, created from it.
	Containers int
}

// ImagePruner is implemented by runtimes that can list the local images and remove one.
type ImagePruner interface {
	// Images lists the local images.
	Images(ctx context.Context) ([]Image, error)
	// DeleteImage removes the image of that ID. It never removes an image a container uses:
	// that is an error wrapping ErrImageInUse; an image that is gone wraps ErrImageNotFound.
	DeleteImage(ctx context.Context, id string) error
}
