package quadlet

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The Quadlet parser (podman pkg/systemd/parser) reads a key's value in one of four ways, and
// each needs its own encoding:
//
//   - single raw value (Lookup: Image, User, HealthCmd, ...): taken as is, trailing space and a
//     '"' at either end stripped, a trailing '\' joins the next line;
//   - raw list, one value per line (LookupAll: Volume, PublishPort, Network, ...): as is; an
//     empty value resets the list;
//   - word list (LookupAllStrv: AddCapability, DropCapability): split at whitespace;
//   - exec-like words (LookupAllArgs, LookupLastArgs, LookupAllKeyVal: Exec, Environment,
//     Label, Mount, Secret, PodmanArgs, ...): split at whitespace, quotes removed, C escapes
//     applied.
//
// Quadlet copies the values into the generated service's ExecStart (or other settings), where
// systemd expands '%' specifiers everywhere and '$' variables in ExecStart; Quadlet escapes
// neither, so the renderer writes "%%" and "$$" for the literal characters.

// enc collects the problems of one unit while encoding its values.
type enc struct {
	problems []KeyError
}

func (e *enc) fail(section, key, format string, args ...any) {
	e.problems = append(e.problems, KeyError{Section: section, Key: key, Reason: fmt.Sprintf(format, args...)})
}

// checkChars refuses what no encoding can carry: control characters (newline, carriage return,
// NUL, ...), which would inject keys or sections or end the value; C1 controls
// (U+0080..U+009F) and invalid UTF-8, which systemd refuses in an assignment (the unit fails to
// load) or which arrive changed; and a value that is exactly ";", which systemd reads as the
// command separator wherever the value becomes a word of ExecStart (Quadlet does not quote it).
func (e *enc) checkChars(section, key, v string, secret bool) bool {
	return e.checkRunes(section, key, v, secret, false)
}

// checkRunes is checkChars; with words, the C0 controls other than NUL are allowed (a quoted
// word carries them as C escapes).
func (e *enc) checkRunes(section, key, v string, secret, words bool) bool {
	if !utf8.ValidString(v) {
		e.fail(section, key, "%s", show(v, secret, "is not valid UTF-8"))
		return false
	}
	for _, r := range v {
		c0 := r < 0x20 || r == 0x7f
		if (c0 && (!words || r == 0)) || (r >= 0x80 && r <= 0x9f) {
			e.fail(section, key, "%s", show(v, secret, "contains a control character"))
			return false
		}
	}
	if v == ";" {
		e.fail(section, key, "is \";\", which systemd reads as a command separator in ExecStart")
		return false
	}
	return true
}

// show describes a value in an error: quoted, or not at all when it may be a secret.
func show(v string, secret bool, what string) string {
	if secret {
		return "value " + what
	}
	return fmt.Sprintf("value %q %s", v, what)
}

// specifiers escapes '%' always and '$' when the value reaches a command line.
func specifiers(v string, cmdline bool) string {
	v = strings.ReplaceAll(v, "%", "%%")
	if cmdline {
		v = strings.ReplaceAll(v, "$", "$$")
	}
	return v
}

// raw encodes a value read by Lookup or LookupAll. It may not be empty, start or end with
// whitespace or '"', or end with '\'.
func (e *enc) raw(section, key, v string, cmdline bool) string {
	if !e.checkChars(section, key, v, false) {
		return ""
	}
	switch {
	case v == "":
		e.fail(section, key, "is empty")
	case strings.TrimSpace(v) != v:
		e.fail(section, key, "value %q starts or ends with whitespace", v)
	case strings.HasPrefix(v, `"`) || strings.HasSuffix(v, `"`):
		e.fail(section, key, "value %q starts or ends with '\"', which the parser strips", v)
	case strings.HasSuffix(v, `\`):
		e.fail(section, key, "value %q ends with '\\', which continues the line", v)
	}
	return specifiers(v, cmdline)
}

// word encodes one exec-like word: double-quoted, with '\\' and '"' escaped and the C0
// controls other than NUL written as C escapes ("\n", "\x1b"), which Quadlet's parser
// unescapes and the generator escapes again for systemd. It may not be empty: Quadlet's parser
// drops an empty word and every word after it.
func (e *enc) word(section, key, v string, secret bool) string {
	if !e.checkRunes(section, key, v, secret, true) {
		return ""
	}
	if v == "" {
		e.fail(section, key, "is empty (Quadlet's parser drops an empty word and every word after it)")
		return ""
	}
	if r, _ := utf8.DecodeRuneInString(v); r != ' ' && unicode.IsSpace(r) {
		e.fail(section, key, "%s", show(v, secret, "starts with a Unicode space, which podman's parser strips from the generated service"))
	} else if r, _ := utf8.DecodeLastRuneInString(v); r != ' ' && unicode.IsSpace(r) {
		e.fail(section, key, "%s", show(v, secret, "ends with a Unicode space, which podman's parser strips from the generated service"))
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range specifiers(v, true) {
		switch {
		case r == '\\' || r == '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// words encodes a list of exec-like words as one value.
func (e *enc) words(section, key string, ws []string) string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = e.word(section, fmt.Sprintf("%s[%d]", key, i), w, false)
	}
	return strings.Join(out, " ")
}

// strv encodes a value of a key Quadlet splits at whitespace (LookupAllStrv: AddCapability,
// AddDevice, Sysctl, UIDMap, LogOpt, ...): one word, no whitespace, quotes or backslashes.
func (e *enc) strv(section, key, v string) string {
	if !e.checkChars(section, key, v, false) {
		return ""
	}
	if v == "" || strings.ContainsAny(v, " \t\"'\\") {
		e.fail(section, key, "value %q must be one word without whitespace, quotes or backslashes (Quadlet splits it)", v)
	}
	return specifiers(v, true)
}

// keyVal encodes one Environment/Label/Annotation assignment as a quoted "key=value" word.
func (e *enc) keyVal(section, key, k, v string, keyRE *regexp.Regexp, secret bool) string {
	field := key + "[" + k + "]"
	if !keyRE.MatchString(k) {
		e.fail(section, fmt.Sprintf("%s[%q]", key, k), "is not a valid key")
		return ""
	}
	return e.word(section, field, k+"="+v, secret)
}

var (
	envKeyRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	labelKeyRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_./-]*$`)
	capRE        = regexp.MustCompile(`^(CAP_)?[A-Z][A-Z0-9_]*$`)
	containerRE  = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
	unitNameRE   = regexp.MustCompile(`^[A-Za-z0-9:_.@\\-]+\.(service|target|socket|mount|timer|path|slice|scope|device|swap|automount|network|volume|container|pod|kube|image|build)$`)
	instanceRE   = regexp.MustCompile(`^[A-Za-z0-9:_.\\-]+$`)
	baseNameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]*$`)
	signalRE     = regexp.MustCompile(`^(SIG)?[A-Z0-9+-]+$`)
	logDriverRE  = regexp.MustCompile(`^[a-z0-9-]+$`)
	memoryRE     = regexp.MustCompile(`^[0-9]+[bkmgBKMG]?$`)
	restartModes = []string{"no", "on-success", "on-failure", "on-abnormal", "on-watchdog", "on-abort", "always"}
)

// ValidateName checks a unit's base name (the file is name.container, the service
// name.service): 1-200 of [A-Za-z0-9_.@-], starting with a letter or digit, no path separator.
func ValidateName(name string) error {
	if len(name) == 0 || len(name) > 200 || !baseNameRE.MatchString(name) || strings.HasSuffix(name, ".container") {
		return &Error{Unit: fmt.Sprintf("%q", name), Problems: []KeyError{{Section: "file", Key: "name",
			Reason: "must be 1-200 of [A-Za-z0-9_.@-], starting with a letter or digit, without the .container suffix"}}}
	}
	return nil
}

func (e *enc) unitNames(section, key string, names []string) []string {
	out := make([]string, 0, len(names))
	for i, n := range names {
		if len(n) > 255 || !unitNameRE.MatchString(n) {
			e.fail(section, fmt.Sprintf("%s[%d]", key, i), "%q is not a unit name", n)
			continue
		}
		out = append(out, n)
	}
	return out
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// systemdSpan renders a duration as a systemd time span in whole seconds or milliseconds.
func (e *enc) systemdSpan(section, key string, d time.Duration) string {
	switch {
	case d < 0:
		e.fail(section, key, "%v is negative", d)
	case d%time.Second == 0:
		return fmt.Sprintf("%d", d/time.Second)
	case d%time.Millisecond == 0:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	default:
		e.fail(section, key, "%v is not a whole number of milliseconds", d)
	}
	return ""
}

// podmanDuration renders a duration for podman's health flags (Go syntax, e.g. "1m30s").
func (e *enc) podmanDuration(section, key string, d time.Duration) string {
	if d < 0 || d%time.Millisecond != 0 {
		e.fail(section, key, "%v must be a positive whole number of milliseconds", d)
		return ""
	}
	return d.String()
}
