package wait

import (
	"strings"
	"testing"
)

func TestValueChecks(t *testing.T) {
	tests := []struct {
		name  string
		check func(string, bool) error
		v     string
		want  string // "" passes
	}{
		{"url", CheckURLValue, "http://10.0.0.1:8080/health?x=1&y=2", ""},
		{"url", CheckURLValue, "a%20b", ""},
		{"url", CheckURLValue, "$(id);`x`|'\"../é\uff1b", ""},
		{"url", CheckURLValue, "a b", `' ' (U+0020) at byte 1 is a control, white space or invisible character`},
		{"url", CheckURLValue, "a\r\nHost: evil", `'\r' (U+000D) at byte 1`},
		{"url", CheckURLValue, "a#b", `'#' (U+0023) at byte 1 would start the URL's fragment`},
		{"url", CheckURLValue, "100%", `'%' (U+0025) at byte 3 does not start a %XX escape`},
		{"url", CheckURLValue, "%zz", `'%' (U+0025) at byte 0 does not start`},
		{"url", CheckURLValue, "a\u202eb", `'\u202e' (U+202E) at byte 1`},
		{"url", CheckURLValue, "a\x00", `'\x00' (U+0000) at byte 1`},
		{"url", CheckURLValue, "a\xff", "byte 0xff at byte 1 is not valid UTF-8"},
		{"host", CheckHostValue, "db-1.example.com", ""},
		{"host", CheckHostValue, "fe80::1%eth0", ""},
		{"host", CheckHostValue, "a;b", `';' (U+003B) at byte 1 is not allowed`},
		{"host", CheckHostValue, "a/b", `'/' (U+002F) at byte 1`},
		{"host", CheckHostValue, "h\u0435", `'\u0435' (U+0435) at byte 1`},
		{"host", CheckHostValue, "", "is empty"},
		{"port", CheckPortValue, "8080", ""},
		{"port", CheckPortValue, "80;", "is not a port number"},
		{"port", CheckPortValue, "", "is empty"},
	}
	for _, tc := range tests {
		err := tc.check(tc.v, false)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s %q: %v, want it accepted", tc.name, tc.v, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s %q: %v, want an error with %q", tc.name, tc.v, err, tc.want)
		}
	}
}
