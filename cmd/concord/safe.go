package main

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Values that reach the terminal come from systems (record ids, names, error
// text, reasons) and may hold control characters: an escape sequence can
// recolour, retitle or clear the terminal, or rewrite what was printed before
// it. Every listing, plan and error line goes through these helpers, which
// print such characters as Go-style escapes (\x1b, \x00, \u202e).

// safeText escapes every control character in s, tabs and newlines included:
// for one value printed inside a line.
func safeText(s string) string { return escapeControls(s, "") }

// safeCell escapes the control characters of a tab-separated table row, but
// its tabs.
func safeCell(s string) string { return escapeControls(s, "\t") }

// safeMessage escapes the control characters of a message that may span lines,
// but its newlines and tabs.
func safeMessage(s string) string { return escapeControls(s, "\n\t") }

// unsafeRune reports whether r must not reach a terminal as is: C0 and C1
// controls, DEL, and the Unicode format characters that reorder or break text
// (bidirectional overrides and isolates, line and paragraph separators).
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069,
		r == 0x2028, r == 0x2029:
		return true
	}
	return false
}

// escapeControls escapes the unsafe runes of s but those in keep, and every
// byte that is not valid UTF-8 (as \xNN).
func escapeControls(s, keep string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || (unsafeRune(r) && !strings.ContainsRune(keep, r)) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !unsafeRune(r) || strings.ContainsRune(keep, r):
			b.WriteString(s[i : i+size])
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += size
	}
	return b.String()
}

// safeJSON escapes, inside JSON text, the characters encoding/json leaves as
// they are but a terminal acts on: DEL, C1 controls and the format characters
// of unsafeRune. They can only occur inside strings, where \uXXXX means the
// same character, so the JSON stays equal. Stored snapshots and responses are
// printed as raw JSON, so this also covers what encoding/json never saw.
func safeJSON(b []byte) []byte {
	if !bytes.ContainsFunc(b, func(r rune) bool { return r >= 0x7f && unsafeRune(r) }) {
		return b
	}
	var out bytes.Buffer
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r >= 0x7f && unsafeRune(r) {
			fmt.Fprintf(&out, `\u%04x`, r)
		} else {
			out.Write(b[i : i+size])
		}
		i += size
	}
	return out.Bytes()
}
