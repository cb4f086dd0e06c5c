package quadlet

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a podman release, compared by major and minor.
type Version struct{ Major, Minor int }

// The podman versions skerry knows. MinVersion is the oldest target the renderer accepts.
var (
	MinVersion = Version{5, 0}
	// Podman542 is Debian trixie's podman and the integration environment's.
	Podman542 = Version{5, 4}
	Latest    = Version{5, 8}
)

// ParseVersion parses "5.4.2", "5.4" or "v5.4.2".
func ParseVersion(s string) (Version, error) {
	parts := strings.SplitN(strings.TrimPrefix(s, "v"), ".", 3)
	if len(parts) < 2 {
		return Version{}, fmt.Errorf("quadlet: version %q: want major.minor[.patch]", s)
	}
	maj, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || maj < 0 || minor < 0 {
		return Version{}, fmt.Errorf("quadlet: version %q: want major.minor[.patch]", s)
	}
	return Version{maj, minor}, nil
}

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool {
	return v.Major < w.Major || v.Major == w.Major && v.Minor < w.Minor
}

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }
