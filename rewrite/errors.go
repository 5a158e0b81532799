// This file holds Error, which names the file and line of a configuration problem.

package rewrite

import "fmt"

// Error reports a problem in a configuration file, at a position a user can open.
type Error struct {
	File      string // the file as Site read it (an absolute path)
	Line      int    // the first physical line of the directive, 1-based
	Directive string // the directive or section as written: "Include", "<Directory>"
	Err       error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d: %s: %v", e.File, e.Line, e.Directive, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }
