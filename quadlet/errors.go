package quadlet

import (
	"errors"
	"strings"
)

// Errors; test them with errors.Is.
var (
	// ErrInvalid: a unit failed validation; the error is an *Error listing every problem.
	ErrInvalid = errors.New("invalid quadlet unit")
	// ErrUnsupported: a key is newer than the target podman and downgrades are off. An error
	// that wraps ErrUnsupported also wraps ErrInvalid.
	ErrUnsupported = errors.New("key not supported by the target podman")
)

// KeyError is one problem with one key. It never contains an Environment value.
type KeyError struct {
	Section string // "Container"
	Key     string // "Environment[RPC_PASSWORD]", "PublishPort[1]"
	Reason  string
	// Unsupported marks a key the target podman lacks.
	Unsupported bool
}

func (e KeyError) Error() string { return "[" + e.Section + "] " + e.Key + ": " + e.Reason }

// Error lists every problem found while rendering one unit.
type Error struct {
	Unit     string
	Problems []KeyError
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("quadlet unit ")
	b.WriteString(e.Unit)
	b.WriteString(": ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Error())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true, and errors.Is(err, ErrUnsupported) true when a
// problem is an unsupported key.
func (e *Error) Is(target error) bool {
	if target == ErrInvalid {
		return true
	}
	if target == ErrUnsupported {
		for _, p := range e.Problems {
			if p.Unsupported {
				return true
			}
		}
	}
	return false
}
