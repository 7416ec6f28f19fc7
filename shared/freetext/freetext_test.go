package freetext_test

import (
	"strings"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/shared/freetext"
)

func TestAccepts(t *testing.T) {
	for _, s := range []string{
		"", "deploy hotfix for INC-1234", "Zürich, 東京, שלום, مرحبا", "naïve café", "a\u00a0b (no-break space)",
		"emoji 🚀 and ZWJ-free flags 🇩🇪", "e\u0301 (combining accent)", "quotes “ ” ‘ ’ — …",
	} {
		for _, ml := range []bool{false, true} {
			if p := freetext.Problem(s, ml); p != "" {
				t.Errorf("%q (multiline %v): %s", s, ml, p)
			}
		}
	}
	for _, s := range []string{"line one\nline two", "col\tcol", "windows\r\nline", "\n\n"} {
		if !freetext.OK(s, true) {
			t.Errorf("multiline %q refused", s)
		}
		if freetext.OK(s, false) {
			t.Errorf("single-line %q accepted", s)
		}
	}
}

func TestRefuses(t *testing.T) {
	bad := map[string]rune{
		"RLO":               '\u202e',
		"LRO":               '\u202d',
		"LRE":               '\u202a',
		"RLE":               '\u202b',
		"PDF":               '\u202c',
		"LRI":               '\u2066',
		"RLI":               '\u2067',
		"FSI":               '\u2068',
		"PDI":               '\u2069',
		"ZWSP":              '\u200b',
		"ZWNJ":              '\u200c',
		"ZWJ":               '\u200d',
		"LRM":               '\u200e',
		"RLM":               '\u200f',
		"BOM":               '\ufeff',
		"soft hyphen":       '\u00ad',
		"word joiner":       '\u2060',
		"NUL":               0,
		"BEL":               7,
		"ESC":               0x1b,
		"DEL":               0x7f,
		"C1 CSI":            0x9b,
		"line separator":    '\u2028',
		"para separator":    '\u2029',
		"private use":       '\ue000',
		"plane 15 private":  0xf0000,
		"unassigned":        0x0378,
		"noncharacter":      0xfffe,
		"tag character":     0xe0041,
		"lone CR":           '\r',
		"vertical tab":      '\v',
		"form feed":         '\f',
		"next line (NEL)":   0x85,
		"interlinear annot": '\ufff9',
	}
	for name, c := range bad {
		s := "approve " + string(c) + "txt.exe"
		for _, ml := range []bool{false, true} {
			p := freetext.Problem(s, ml)
			if p == "" {
				t.Errorf("%s (%U) accepted (multiline %v)", name, c, ml)
			} else if !strings.Contains(p, "U+") {
				t.Errorf("%s: problem %q does not name the character", name, p)
			}
		}
	}
	if p := freetext.Problem("a\r", true); p == "" {
		t.Error("a trailing lone CR accepted")
	}
	if p := freetext.Problem("bad \xff utf-8", true); p != "not valid UTF-8" {
		t.Errorf("invalid UTF-8: %q", p)
	}
}
