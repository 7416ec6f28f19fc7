package notify

import (
	"strings"
	"unicode/utf8"
)

// Slack text helpers. Slack limits count characters; we count runes.

const ellipsis = "…"

// escapeRune is Slack's mrkdwn escaping of one rune (&, <, > become
// entities, so user text can neither mention (<!channel>, <@U…>) nor link
// (<https://…|…>)); control characters other than newline and tab become
// spaces.
func escapeRune(r rune) string {
	switch r {
	case '&':
		return "&amp;"
	case '<':
		return "&lt;"
	case '>':
		return "&gt;"
	case '\n', '\t':
		return string(r)
	}
	if r < ' ' || r == 0x7f || r == utf8.RuneError {
		return " "
	}
	return string(r)
}

// esc escapes s for mrkdwn and truncates the result to at most max
// characters, ending in "…" when cut, never inside an entity.
func esc(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		n += utf8.RuneCountInString(escapeRune(r))
	}
	if n <= max {
		for _, r := range s {
			b.WriteString(escapeRune(r))
		}
		return b.String()
	}
	n = 0
	for _, r := range s {
		e := escapeRune(r)
		c := utf8.RuneCountInString(e)
		if n+c > max-1 {
			break
		}
		b.WriteString(e)
		n += c
	}
	return b.String() + ellipsis
}

// plainTrunc truncates plain_text to at most max characters ("…" when cut)
// and replaces control characters other than newline.
func plainTrunc(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r != '\n' && (r < ' ' || r == 0x7f) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, " "))
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	rs := []rune(s)
	return string(rs[:max-1]) + ellipsis
}
