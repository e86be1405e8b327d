package wait

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/zdu-dev/zdu/steps/lb"
)

// URLValueRule says in words what a value inserted into a URL may not hold.
const URLValueRule = "a value inserted into a URL must not hold white space, '#', a control or an invisible formatting character, or a '%' that does not start a %XX escape"

// CheckURLValue checks a value inserted into a URL (wait-http's url,
// lb-enable's healthUrl, rollback-on's reenableIfHealthy), so that the
// request sent is the URL the log and the dry run show: no control
// character (a CR or a line feed would forge a request line or a header),
// no white space, no '#' (what follows would never be sent), '%' only as
// a %XX escape (any other would make the URL unparsable), and valid UTF-8
// without invisible formatting characters (bidirectional overrides,
// zero-width spaces).
func CheckURLValue(v string, raw bool) error {
	for i, r := range v {
		why := ""
		switch {
		case r == utf8.RuneError && !validAt(v, i):
			return fmt.Errorf("byte %#x at byte %d is not valid UTF-8; %s", v[i], i, URLValueRule)
		case r == '#':
			why = "would start the URL's fragment, which is never sent"
		case r == '%' && !escapeAt(v, i):
			why = "does not start a %XX escape"
		case unicode.IsControl(r) || unicode.IsSpace(r) || !unicode.IsGraphic(r):
			why = "is a control, white space or invisible character"
		default:
			continue
		}
		return fmt.Errorf("%s at byte %d %s; %s", lb.DescribeRune(r), i, why, URLValueRule)
	}
	return nil
}

// CheckHostValue checks a value inserted into wait-port's host: a host
// name or an address (ASCII letters, digits, '-', '_', '.', ':', '[', ']',
// and '%' for an IPv6 zone), nothing a dial would read otherwise.
func CheckHostValue(v string, raw bool) error {
	if v == "" {
		return fmt.Errorf("is empty, which would dial this machine")
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':' || c == '[' || c == ']' || c == '%' {
			continue
		}
		what := fmt.Sprintf("byte %#x", c)
		if r, n := utf8.DecodeRuneInString(v[i:]); r != utf8.RuneError || n > 1 {
			what = lb.DescribeRune(r)
		}
		return fmt.Errorf("%s at byte %d is not allowed: a host may contain only ASCII letters, digits, '-', '_', '.', ':', '[', ']' and '%%'", what, i)
	}
	return nil
}

// CheckPortValue checks a value inserted into wait-port's port: digits.
func CheckPortValue(v string, raw bool) error {
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return fmt.Errorf("is not a port number: a port has only digits")
		}
	}
	if v == "" {
		return fmt.Errorf("is empty, not a port number")
	}
	return nil
}

func validAt(s string, i int) bool {
	_, n := utf8.DecodeRuneInString(s[i:])
	return n > 1
}

func escapeAt(s string, i int) bool {
	return i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2])
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
