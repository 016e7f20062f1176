package config

import (
	"bytes"
	"fmt"
)

// Limits on a config file, checked before the YAML parser sees it: the parser
// takes time that grows with the square of the keys in one mapping and far
// worse with the nesting of flow brackets (a 200 KB file of "[" ran out of
// memory), and a 900 KB list of numbers takes seconds; such files are refused
// up front, at the position where the limit is passed.
const (
	// MaxConfigBytes bounds the size of a config file.
	MaxConfigBytes = 1 << 20
	// MaxConfigDepth bounds the nesting of mappings and lists, block or flow.
	MaxConfigDepth = 64
	// MaxConfigKeys bounds the keys of one mapping.
	MaxConfigKeys = 1000
	// MaxConfigEntries bounds the keys and list items of the whole file.
	MaxConfigEntries = 10_000
)

// checkLimits scans data as YAML's lexer would, just enough to measure
// nesting depth, keys per mapping and entries in all, and returns the first limit broken, at
// its position. It never fails on YAML it does not understand (the parser says
// what is wrong with that); its counts can only err upwards on files that are
// not valid YAML anyway.
func checkLimits(file string, data []byte) *Problem {
	if len(data) > MaxConfigBytes {
		return &Problem{File: file, Line: 1, Col: 1, Msg: fmt.Sprintf("the config file is larger than %d KiB", MaxConfigBytes>>10)}
	}
	s := limitScanner{file: file, blockScalar: -1}
	for i, line := range bytes.Split(data, []byte("\n")) {
		if p := s.line(i+1, bytes.TrimSuffix(line, []byte("\r"))); p != nil {
			return p
		}
	}
	return nil
}

// frame is an open mapping or list.
type frame struct {
	indent int  // block: the column of its keys or dashes; flow: unused
	seq    bool // a list
	keys   int  // entries so far
}

type limitScanner struct {
	file  string
	block []frame // open block collections, innermost last
	flow  []frame // open flow collections, innermost last
	// quote is the quote character of a quoted scalar left open at the end of
	// the previous line, or 0.
	quote byte
	// entries counts the keys and list items so far.
	entries int
	// blockScalar is the indentation of the line that opened a literal or
	// folded block scalar (| or >) whose content lines are being skipped, or -1.
	blockScalar int
}

func (s *limitScanner) problem(line, col int, format string, args ...any) *Problem {
	return &Problem{File: s.file, Line: line, Col: col, Msg: "yaml: " + fmt.Sprintf(format, args...)}
}

func (s *limitScanner) depth() int { return len(s.block) + len(s.flow) }

// entry counts one key or list item, at line n, column col.
func (s *limitScanner) entry(n, col int) *Problem {
	s.entries++
	if s.entries > MaxConfigEntries {
		return s.problem(n, col, "more than %d keys and list items in the file", MaxConfigEntries)
	}
	return nil
}

// line scans one line (1-based number n).
func (s *limitScanner) line(n int, b []byte) *Problem {
	indent := 0
	for indent < len(b) && b[indent] == ' ' {
		indent++
	}
	blank := indent == len(b) || b[indent] == '#'
	if s.blockScalar >= 0 {
		if blank || indent > s.blockScalar {
			return nil
		}
		s.blockScalar = -1
	}
	if s.quote == 0 && blank {
		return nil
	}
	pos := indent
	if s.quote == 0 && len(s.flow) == 0 {
		var p *Problem
		if pos, p = s.blockPrefix(n, b, indent); p != nil {
			return p
		}
	}
	return s.scan(n, b, pos, indent)
}

// blockPrefix reads the dashes and the key that start a line in block
// context, updating the open block collections, and returns where the value
// starts.
func (s *limitScanner) blockPrefix(n int, b []byte, pos int) (int, *Problem) {
	for pos < len(b) && b[pos] == '-' && (pos+1 == len(b) || b[pos+1] == ' ') {
		if p := s.entry(n, pos+1); p != nil {
			return 0, p
		}
		s.popBlock(pos)
		if top := len(s.block) - 1; top < 0 || s.block[top].indent != pos || !s.block[top].seq {
			s.block = append(s.block, frame{indent: pos, seq: true})
			if s.depth() > MaxConfigDepth {
				return 0, s.problem(n, pos+1, "nesting deeper than %d levels", MaxConfigDepth)
			}
		}
		pos++
		for pos < len(b) && b[pos] == ' ' {
			pos++
		}
	}
	end := keyEnd(b, pos)
	if end < 0 {
		return pos, nil
	}
	if p := s.entry(n, pos+1); p != nil {
		return 0, p
	}
	s.popBlock(pos)
	if top := len(s.block) - 1; top >= 0 && s.block[top].indent == pos && s.block[top].seq {
		s.block = s.block[:top] // a key back at a list's dashes ends the list
	}
	if top := len(s.block) - 1; top >= 0 && s.block[top].indent == pos && !s.block[top].seq {
		s.block[top].keys++
		if s.block[top].keys > MaxConfigKeys {
			return 0, s.problem(n, pos+1, "more than %d keys in one mapping", MaxConfigKeys)
		}
	} else {
		s.block = append(s.block, frame{indent: pos, keys: 1})
		if s.depth() > MaxConfigDepth {
			return 0, s.problem(n, pos+1, "nesting deeper than %d levels", MaxConfigDepth)
		}
	}
	return end, nil
}

// popBlock closes the block collections indented deeper than col.
func (s *limitScanner) popBlock(col int) {
	for len(s.block) > 0 && s.block[len(s.block)-1].indent > col {
		s.block = s.block[:len(s.block)-1]
	}
}

// keyEnd returns the position after "key:" when b[pos:] starts with a block
// mapping key (plain or quoted, followed by ": " or ":" at the end of the
// line), or -1.
func keyEnd(b []byte, pos int) int {
	if pos >= len(b) {
		return -1
	}
	i := pos
	switch c := b[pos]; c {
	case '[', '{', '#', '|', '>', '&', '*', '!', '%', '@', '`':
		return -1
	case '"', '\'':
		i = quotedEnd(b, pos+1, c)
		if i < 0 {
			return -1
		}
	}
	for ; i < len(b); i++ {
		switch {
		case b[i] == '#' && i > pos && (b[i-1] == ' ' || b[i-1] == '\t'):
			return -1
		case b[i] == ':' && (i+1 == len(b) || b[i+1] == ' ' || b[i+1] == '\t'):
			return i + 1
		}
	}
	return -1
}

// quotedEnd returns the position after the quote q that closes a quoted
// scalar whose content starts at b[from], or -1 when it does not close on this
// line.
func quotedEnd(b []byte, from int, q byte) int {
	for i := from; i < len(b); i++ {
		switch {
		case q == '"' && b[i] == '\\':
			i++
		case b[i] == q && q == '\'' && i+1 < len(b) && b[i+1] == '\'':
			i++
		case b[i] == q:
			return i + 1
		}
	}
	return -1
}

// scan reads the rest of a line from pos: quoted scalars, comments, flow
// collections and the start of block scalars.
func (s *limitScanner) scan(n int, b []byte, pos, indent int) *Problem {
	i := pos
	if s.quote != 0 {
		end := quotedEnd(b, i, s.quote)
		if end < 0 {
			return nil
		}
		s.quote, i = 0, end
	}
	start := true // at the start of a token, where [ { " ' | > begin something
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c == ' ' || c == '\t':
			continue
		case c == '#' && (i == 0 || b[i-1] == ' ' || b[i-1] == '\t'):
			return nil
		case start && (c == '"' || c == '\''):
			end := quotedEnd(b, i+1, c)
			if end < 0 {
				s.quote = c
				return nil
			}
			i = end - 1
			start = false
		case start && (c == '&' || c == '!'):
			for i+1 < len(b) && b[i+1] != ' ' && b[i+1] != '\t' {
				i++
			}
		case start && (c == '[' || c == '{'):
			s.flow = append(s.flow, frame{seq: c == '[', keys: 1})
			if s.depth() > MaxConfigDepth {
				return s.problem(n, i+1, "nesting deeper than %d levels", MaxConfigDepth)
			}
			if p := s.entry(n, i+1); p != nil {
				return p
			}
		case len(s.flow) > 0 && (c == ']' || c == '}'):
			s.flow = s.flow[:len(s.flow)-1]
			start = false
		case len(s.flow) > 0 && c == ',':
			if p := s.entry(n, i+1); p != nil {
				return p
			}
			top := &s.flow[len(s.flow)-1]
			top.keys++
			if !top.seq && top.keys > MaxConfigKeys {
				return s.problem(n, i+1, "more than %d keys in one mapping", MaxConfigKeys)
			}
			start = true
		case len(s.flow) > 0 && c == ':' && (i+1 == len(b) || b[i+1] == ' ' || b[i+1] == ','):
			start = true
		case len(s.flow) == 0 && start && (c == '|' || c == '>') && blockScalarHeader(b[i+1:]):
			s.blockScalar = indent
			return nil
		case len(s.flow) == 0 && c == ':' && (i+1 == len(b) || b[i+1] == ' '):
			start = true
		default:
			start = false
		}
	}
	return nil
}

// blockScalarHeader reports whether rest, what follows | or >, is a block
// scalar header: chomping and indentation indicators, then an optional comment.
func blockScalarHeader(rest []byte) bool {
	for i, c := range rest {
		switch {
		case c == '-' || c == '+' || (c >= '1' && c <= '9'):
		case c == ' ' || c == '\t':
			return bytes.HasPrefix(bytes.TrimLeft(rest[i:], " \t"), []byte("#")) || len(bytes.TrimSpace(rest[i:])) == 0
		default:
			return false
		}
	}
	return true
}
