package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a config file, at a position in it. Line and
// Col are 1-based; they are 0 when the problem has no position (a file that
// cannot be read).
type Problem struct {
	File string
	Line int
	Col  int
	Msg  string
}

// String formats the problem as FILE:LINE:COL: message, the form editors and
// compilers use.
func (p Problem) String() string {
	if p.Line == 0 {
		return p.File + ": " + p.Msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Msg)
}

// Error is returned by Load and Parse when a config file has problems. It holds
// every problem found, sorted by position. A config with problems is never
// partly used.
type Error struct {
	Problems []Problem
}

// Error prints one FILE:LINE:COL: message per line, sorted by position.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func (e *Error) sort() {
	slices.SortStableFunc(e.Problems, func(a, b Problem) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col),
			cmp.Compare(a.Msg, b.Msg),
		)
	})
	e.Problems = slices.Compact(e.Problems)
}
