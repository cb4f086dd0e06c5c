package runtime

import "errors"

// Sentinel errors. Adapters wrap them with detail; test them with errors.Is.
var (
	// ErrNotFound: no container of that name.
	ErrNotFound = errors.New("container not found")
	// ErrAlreadyExists: a container of that name exists already.
	ErrAlreadyExists = errors.New("container already exists")
	// ErrImageNotFound: the image is not present locally.
	ErrImageNotFound = errors.New("image not found")
	// ErrInvalidSpec: a spec failed validation; the error is a *ValidationError.
	ErrInvalidSpec = errors.New("invalid spec")
	// ErrUnavailable: the engine could not be reached (socket gone, connection refused).
	ErrUnavailable = errors.New("runtime unavailable")
)
