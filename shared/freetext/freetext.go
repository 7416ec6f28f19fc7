// Package freetext is the one rule for text people type into the API and
// other people read back: justifications, review reasoning, messages, rule
// names, descriptions and notices, API key, tenant and channel names.
//
// Such text may hold letters, marks, numbers, punctuation, symbols and
// spaces (Unicode L, M, N, P, S, Zs). It may not hold what a reader cannot
// see or that changes how the rest reads: control characters (Cc),
// format characters (Cf: the bidirectional embeddings and overrides
// U+202A–U+202E and isolates U+2066–U+2069, zero-width characters
// U+200B–U+200F, U+FEFF, …), line and paragraph separators (Zl, Zp),
// private-use (Co), surrogate (Cs) and unassigned (Cn) code points.
// Multi-line text may also hold line feeds, tabs and CR LF line breaks
// (a carriage return on its own can make a terminal overwrite a line).
package freetext

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Problem says why s is not acceptable free text, "" when it is: it must be
// valid UTF-8 and hold only the characters the package documents (plus
// \n, \t and \r\n when multiline). Lengths are the caller's business.
func Problem(s string, multiline bool) string {
	if !utf8.ValidString(s) {
		return "not valid UTF-8"
	}
	for i, c := range s {
		if unicode.IsGraphic(c) {
			continue
		}
		if multiline && (c == '\n' || c == '\t' || c == '\r' && i+1 < len(s) && s[i+1] == '\n') {
			continue
		}
		return fmt.Sprintf("contains an invisible control or format character (%U)", c)
	}
	return ""
}

// OK reports whether s is acceptable free text (Problem(s, multiline) == "").
func OK(s string, multiline bool) bool { return Problem(s, multiline) == "" }
