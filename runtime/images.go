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
