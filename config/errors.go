// This file holds the error and warning types every stage reports with.

package config

import "fmt"

// Error reports a problem in a configuration file, at a position a user can open.
// Directive is the directive as Apache names it ("PythonHandler", "<Directory>").
type Error struct {
	File      string
	Line      int
	Directive string
	Err       error

	seq int // reading order of the line, for sorting across files
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d: %s: %v", e.File, e.Line, e.Directive, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Warning reports a directive that was accepted but cannot be honoured as
// written, or a construct mpgate does not evaluate.
type Warning struct {
	File      string
	Line      int
	Directive string
	Msg       string

	seq int
}

func (w Warning) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", w.File, w.Line, w.Directive, w.Msg)
}
