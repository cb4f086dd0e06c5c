package hooks

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"unicode/utf8"
)

// TemplateError is a TemplateFile whose template failed to render. Its text names the file,
// the template, the failing action and, when text/template's message cannot quote the data
// (a missing map key, an unknown field, a wrong argument count ...), that message; otherwise it
// says the detail was withheld. Err is text/template's error (a template.ExecError, which
// wraps the error of a failing template function): reach it with errors.As and errors.Is, and
// mind that its own text may quote the data.
type TemplateError struct {
	Path     string
	Template string
	Err      error
}

func (e *TemplateError) Error() string {
	return fmt.Sprintf("hook %s: render template %q: %s", e.Path, e.Template, describeTemplateErr(e.Err))
}

// Unwrap returns text/template's error.
func (e *TemplateError) Unwrap() error { return e.Err }

// safeDetail matches text/template's execution messages that quote names, types and template
// source only, never a value.
var safeDetail = regexp.MustCompile(`^(map has no entry for key "[^"]*"|nil data; no entry for key "[^"]*"|` +
	`can't evaluate field \S+ in type \S+|nil pointer evaluating \S+|\S+ is an unexported field of struct type \S+|` +
	`wrong number of args for \S+: want (at least )?\d+ got \d+|"[^"]*" is not a defined function|` +
	`undefined variable: \S+|template "[^"]*" not defined|wrong type for value; expected \S+; got \S+|` +
	`"[^"]*" is an incomplete or empty template)$`)

// describeTemplateErr renders err without the data: text/template's position and action
// ("template: t:1:10: executing \"t\" at <.password>"), then its message when safeDetail
// matches it.
func describeTemplateErr(err error) string {
	var ee template.ExecError
	if !errors.As(err, &ee) {
		return "render failed"
	}
	msg := ee.Err.Error()
	pos, detail, ok := strings.Cut(msg, ">: ")
	if !ok { // no action to point at: "template: NAME: DETAIL"
		pos, detail = "template: "+ee.Name, strings.TrimPrefix(msg, "template: "+ee.Name+": ")
	}
	if safeDetail.MatchString(detail) {
		return msg
	}
	if ok {
		pos += ">"
	}
	return pos + ": detail withheld (it may quote the data)"
}

// MaxErrorText bounds the text of a hook's error (see BoundError).
const MaxErrorText = 4 << 10

// BoundError bounds err's text to MaxErrorText bytes: a longer text is cut at a rune boundary
// and marked with how much was cut. The result wraps err (errors.Is and errors.As see through
// it); nil stays nil. RunAll applies it; a caller running hooks itself should too before
// putting a hook's error in a report or a log.
func BoundError(err error) error {
	if err == nil || len(err.Error()) <= MaxErrorText {
		return err
	}
	return &boundedError{err: err}
}

type boundedError struct{ err error }

func (e *boundedError) Error() string {
	text := e.err.Error()
	cut := MaxErrorText - 64 // room for the marker
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... [hook error truncated: %d of %d bytes shown]", text[:cut], cut, len(text))
}

func (e *boundedError) Unwrap() error { return e.err }
