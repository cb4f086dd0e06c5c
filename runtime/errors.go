package runtime

import "errors"

// Sentinel errors. Adapters wrap them with detail; test them with errors.Is.
var (
	// ErrNotFound: no container of that name.
	ErrNotFound = errors.New("container not found")
	// ErrAlreadyExists: a container of that name exists already.
	ErrAlreadyExists = errors.New("container already exists")
	// ErrPortInUse: a host port the container publishes is taken (by another container or
	// process); the container was created but could not start.
	ErrPortInUse = errors.New("host port already in use")
	// ErrImageNotFound: the image is not present locally.
	ErrImageNotFound = errors.New("image not found")
	// ErrInvalidSpec: a spec failed validation; the error is a *ValidationError.
	ErrInvalidSpec = errors.New("invalid spec")
	// ErrUnavailable: the engine could not be reached (socket gone, connection refused).
	ErrUnavailable = errors.New("runtime unavailable")
	// ErrRolledBack: a changed release (an app's spec or a set of companion units) did not come
	// up and the last release that did was put back. The error also wraps the failure. The
	// orchestrator and the companion manager both return it: one sentinel for one meaning.
	ErrRolledBack = errors.New("upgrade rolled back")
)
