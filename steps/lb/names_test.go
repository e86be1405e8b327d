package lb_test

import (
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/steps/lb"
)

func TestNameRules(t *testing.T) {
	tests := []struct {
		check func(string) error
		name  string
		s     string
		want  string // "" passes
	}{
		{lb.CheckName, "name", "web-1.example:8080", ""},
		{lb.CheckName, "name", "-x", ""}, // HAProxy takes it; node names do not
		{lb.CheckName, "name", "app/web1", `'/' (U+002F) at byte 3`},
		{lb.CheckName, "name", "", "cannot be empty"},
		{lb.CheckAddress, "address", "10.0.0.1:8080", ""},
		{lb.CheckAddress, "address", "[::1]:8080", ""},
		{lb.CheckAddress, "address", "unix:/run/app.sock", ""},
		{lb.CheckAddress, "address", "10.0.0.1:80;", `';' (U+003B) at byte 11`},
		{lb.CheckAddress, "address", "a{b", `'{' (U+007B) at byte 1`},
		{lb.CheckAddress, "address", "$host", `'$' (U+0024) at byte 0`},
		{lb.CheckWord, "word", "/Common/pool_member:80", ""},
		{lb.CheckWord, "word", "$(id);`x`|&&*?'\"", ""},
		{lb.CheckWord, "word", "wëb\uff1b", ""},
		{lb.CheckWord, "word", "a b", `' ' (U+0020) at byte 1`},
		{lb.CheckWord, "word", "a\x00b", `'\x00' (U+0000) at byte 1`},
		{lb.CheckWord, "word", "a\u202eb", `'\u202e' (U+202E) at byte 1`},
		{lb.CheckWord, "word", "a\u200bb", `'\u200b' (U+200B) at byte 1`},
		{lb.CheckWord, "word", "a\xffb", "byte 0xff at byte 1 is not valid UTF-8"},
		{lb.CheckWord, "word", strings.Repeat("x", 254), "at most 253 bytes"},
	}
	for _, tc := range tests {
		err := tc.check(tc.s)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s %q: %v, want it accepted", tc.name, tc.s, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s %q: %v, want an error with %q", tc.name, tc.s, err, tc.want)
		}
	}
}
