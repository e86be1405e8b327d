package haproxy

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/zdu-dev/zdu/steps/lb"
)

// ArgRule says in words what a value inserted into a runtime API command
// may not hold (see CheckArg).
const ArgRule = "a value inserted into a runtime API command must not hold ';', a line break, a NUL, '\\', " +
	"another control or an invisible formatting character, white space (except in ${{ raw }}) or '<<'"

// CheckArg checks a value zdu inserts into a runtime API command line: it
// must stay inside its argument of its command. HAProxy's CLI ends a
// command at ';' or a line feed (and drops a carriage return before it),
// splits arguments at spaces and tabs, reads '\' as an escape (a trailing
// one would swallow the line's end), and starts a payload at a last
// argument beginning with "<<"; its C strings end at a NUL. Other control
// characters and invisible formatting characters (bidirectional overrides,
// zero-width spaces) reach HAProxy unchanged but make the line in the logs
// and the dry run read otherwise than what was sent, so they are refused
// too, as is an empty value (it would drop an argument). With raw (a
// trusted fragment, `${{ raw x }}`), spaces and tabs may separate
// arguments; nothing may separate commands.
func CheckArg(v string, raw bool) error {
	if v == "" {
		return fmt.Errorf("is empty, which would drop an argument of the runtime API command")
	}
	if i := strings.Index(v, "<<"); i >= 0 {
		return fmt.Errorf("\"<<\" at byte %d would start a payload in the runtime API command; %s", i, ArgRule)
	}
	for i, r := range v {
		why := ""
		switch {
		case r == utf8.RuneError && !validAt(v, i):
			return fmt.Errorf("byte %#x at byte %d is not valid UTF-8; %s", v[i], i, ArgRule)
		case r == ';' || r == '\n' || r == '\r' || r == 0:
			why = "would end the runtime API command"
		case r == '\\':
			why = "is the runtime API's escape character"
		case r == ' ' || r == '\t':
			if raw {
				continue
			}
			why = "would split the value into two arguments"
		case unicode.IsControl(r) || !unicode.IsGraphic(r) || unicode.IsSpace(r):
			why = "is a control, invisible or white space character"
		default:
			continue
		}
		return fmt.Errorf("%s at byte %d %s; %s", lb.DescribeRune(r), i, why, ArgRule)
	}
	return nil
}

func validAt(s string, i int) bool {
	_, n := utf8.DecodeRuneInString(s[i:])
	return n > 1
}
