package haproxy

import (
	"strings"
	"testing"
)

func TestCheckArg(t *testing.T) {
	tests := []struct {
		v    string
		raw  bool
		want string // "" passes
	}{
		{"web-1", false, ""},
		{"app/web-1", false, ""},
		{"100%", false, ""},
		{"w\u0435b\uff1b", false, ""}, // a homoglyph and a fullwidth ';' split nothing
		{"$(id)`x`|&&*?'\"#", false, ""},
		{"app web", true, ""},
		{"a\tb", true, ""},
		{"", false, "is empty"},
		{"a;b", false, `';' (U+003B) at byte 1 would end the runtime API command`},
		{"a;b", true, `';' (U+003B) at byte 1 would end the runtime API command`},
		{"a\nb", true, `'\n' (U+000A) at byte 1 would end`},
		{"a\rb", false, `'\r' (U+000D) at byte 1 would end`},
		{"a\x00b", false, `'\x00' (U+0000) at byte 1 would end`},
		{"a b", false, `' ' (U+0020) at byte 1 would split the value into two arguments`},
		{"a\tb", false, `'\t' (U+0009) at byte 1 would split`},
		{`a\`, false, `'\\' (U+005C) at byte 1 is the runtime API's escape character`},
		{"x <<", true, `"<<" at byte 2 would start a payload`},
		{"<<EOF", false, `"<<" at byte 0 would start a payload`},
		{"a\u202eb", false, `'\u202e' (U+202E) at byte 1 is a control, invisible or white space character`},
		{"a\u200bb", false, `'\u200b' (U+200B) at byte 1`},
		{"a\u00a0b", true, `'\u00a0' (U+00A0) at byte 1`},
		{"a\x1bb", false, `'\x1b' (U+001B) at byte 1`},
		{"a\xffb", false, "byte 0xff at byte 1 is not valid UTF-8"},
	}
	for _, tc := range tests {
		err := CheckArg(tc.v, tc.raw)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckArg(%q, raw %v) = %v, want it accepted", tc.v, tc.raw, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckArg(%q, raw %v) = %v, want an error with %q", tc.v, tc.raw, err, tc.want)
		}
	}
}
