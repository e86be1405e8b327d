package lb

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen bounds a name zdu gives a load balancer: a DNS name's length,
// far below any load balancer's command buffer.
const MaxNameLen = 253

// NameChars says in words what CheckName accepts, for messages and docs.
const NameChars = "ASCII letters, digits, '-', '_', '.' and ':'"

// CheckName checks a server or backend name against what HAProxy accepts in
// one (its invalid_char rule for proxy and server names): NameChars only,
// 1 to MaxNameLen bytes. Such a name is one word wherever it goes: a runtime
// API command, a config file, a log line, a file name.
func CheckName(s string) error {
	return checkChars(s, NameChars, isNameByte)
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == ':'
}

// AddressChars says in words what CheckAddress accepts.
const AddressChars = "ASCII letters, digits, '-', '_', '.', ':', '[', ']' and '/'"

// CheckAddress checks a server address as an nginx upstream writes it
// (host, host:port, [v6]:port, unix:/path): CheckName's characters and
// '[', ']', '/'. None of nginx's separators (white space, ';', '{', '}',
// '#', quotes, '$', '\') can be in it.
func CheckAddress(s string) error {
	return checkChars(s, AddressChars, func(c byte) bool {
		return isNameByte(c) || c == '[' || c == ']' || c == '/'
	})
}

// CheckWord checks a name a driver never writes into a command or a file
// (the command driver passes it in an environment variable): any printable
// characters but white space, 1 to MaxNameLen bytes of valid UTF-8.
// Control characters (a NUL ends an environment value; a newline or a
// carriage return forges a log line) and invisible formatting characters
// (bidirectional overrides, zero-width spaces: a log line would read
// otherwise than what was sent) are refused.
func CheckWord(s string) error {
	if err := checkLen(s); err != nil {
		return err
	}
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n <= 1 {
				return fmt.Errorf("byte %#x at byte %d is not valid UTF-8", s[i], i)
			}
		}
		if !unicode.IsGraphic(r) || unicode.IsSpace(r) {
			return fmt.Errorf("%s at byte %d is not allowed: a name may hold any printable characters but white space", DescribeRune(r), i)
		}
	}
	return nil
}

func checkLen(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("a name cannot be empty")
	case len(s) > MaxNameLen:
		return fmt.Errorf("a name is at most %d bytes long, this one is %d", MaxNameLen, len(s))
	}
	return nil
}

// checkChars checks s byte by byte against ok (ASCII only: any byte of a
// multi-byte character fails).
func checkChars(s, allowed string, ok func(byte) bool) error {
	if err := checkLen(s); err != nil {
		return err
	}
	for i := 0; i < len(s); i++ {
		if ok(s[i]) {
			continue
		}
		what := fmt.Sprintf("byte %#x", s[i])
		if r, n := utf8.DecodeRuneInString(s[i:]); r != utf8.RuneError || n > 1 {
			what = DescribeRune(r)
		}
		return fmt.Errorf("%s at byte %d is not allowed: a name may contain only %s", what, i, allowed)
	}
	return nil
}

// DescribeRune names a character for a message, visibly: ';' (U+003B),
// '\n' (U+000A), '\u202e' (U+202E).
func DescribeRune(r rune) string {
	return fmt.Sprintf("%s (U+%04X)", strconv.QuoteRuneToASCII(r), r)
}

// CheckTarget checks, before anything is sent, that t's backend and server
// names meet its driver's rules. The loader has checked the inventory's
// names; this also covers a node standing for its own server, and holds
// whatever built the target.
func CheckTarget(t Target) error {
	d, ok := Find(t.LB.Driver)
	if !ok {
		return nil // Lookup says so
	}
	if t.LB.Backend != "" {
		if err := d.CheckBackendName(t.LB.Backend); err != nil {
			return fmt.Errorf("load balancer %s: backend name %s: %w", t.LB.Name, strconv.QuoteToASCII(t.LB.Backend), err)
		}
	}
	if err := d.CheckServerName(t.Server); err != nil {
		return fmt.Errorf("load balancer %s: server name %s of node %s: %w", t.LB.Name, strconv.QuoteToASCII(t.Server), strconv.QuoteToASCII(t.Node.Name), err)
	}
	return nil
}
