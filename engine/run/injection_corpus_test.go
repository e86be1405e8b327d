package run_test

import "strings"

// payload is one hostile value of the injection corpus, and where it must
// be accepted. Everywhere else it must be refused at validate, at a
// position. ok holds one letter for each destination that takes it as it
// is (and must then receive it byte for byte):
//
//	s  a shell word of ssh-exec's command (shell-quoted)
//	a  an argument of an HAProxy runtime API command (haproxy-socket)
//	u  a piece of a wait-http URL's path
//	h  wait-port's host
//	H  an haproxy backend or server name
//	N  an nginx server address (its backend, an upstream's name, is an H)
//	C  a command driver's backend or server name (passed in the environment)
//
// A node name takes none of them: every payload is refused as one.
// noYAML marks values YAML cannot hold (invalid UTF-8): they come in
// through --set only.
type payload struct {
	name, v string
	ok      string
	noYAML  bool
}

var corpus = []payload{
	{name: "semicolon", v: "s2; set server app/s3 state maint", ok: "s"},
	{name: "semicolon, no space", v: "s2;set server app/s3 state maint", ok: "s"},
	{name: "newline", v: "s2\nset server app/s3 state maint", ok: "s"},
	{name: "carriage return", v: "s2\rset server app/s3 state maint", ok: "s"},
	{name: "CRLF header", v: "x\r\nHost: evil", ok: "s"},
	{name: "NUL", v: "s2\x00set server app/s3 state maint", ok: ""},
	{name: "single quote", v: "it's", ok: "sauC"},
	{name: "double quotes", v: `"hi"`, ok: "sauC"},
	{name: "double quotes and space", v: `say "hi"`, ok: "s"},
	{name: "command substitution", v: "$(id)", ok: "sauC"},
	{name: "command substitution with a space", v: "$(touch /tmp/zdu-pwned)", ok: "s"},
	{name: "backticks", v: "`id`", ok: "sauC"},
	{name: "and", v: "x&&id", ok: "sauC"},
	{name: "or", v: "x||id", ok: "sauC"},
	{name: "pipe", v: "x|id", ok: "sauC"},
	{name: "glob", v: "*", ok: "sauC"},
	{name: "glob path", v: "/et?/pass*", ok: "sauC"},
	{name: "brace expansion", v: "{a,b}", ok: "sauC"},
	{name: "tilde", v: "~root", ok: "sauC"},
	{name: "variable", v: "$HOME", ok: "sauC"},
	{name: "escaped semicolon", v: `a\;b`, ok: "suC"},
	{name: "tab", v: "a\tb", ok: "s"},
	{name: "space", v: "a b", ok: "s"},
	{name: "leading dash", v: "-rf", ok: "sauhHNC"},
	{name: "option", v: "-oProxyCommand=id", ok: "sauC"},
	{name: "dot-dot", v: "../../etc/passwd", ok: "sauNC"},
	{name: "RTL override", v: "web\u202e1", ok: "s"},
	{name: "zero-width space", v: "web\u200b1", ok: "s"},
	{name: "byte order mark", v: "\ufeffweb", ok: "s"},
	{name: "homoglyph", v: "w\u0435b-1", ok: "sauC"},
	{name: "fullwidth semicolon", v: "web\uff1bset", ok: "sauC"},
	{name: "line separator", v: "a\u2028b", ok: "s"},
	{name: "terminal escape", v: "\x1b[31mred", ok: "s"},
	{name: "payload start", v: "x<<", ok: "suC"},
	{name: "hash", v: "x#y", ok: "saC"},
	{name: "percent", v: "100%", ok: "sahC"},
	{name: "printf format", v: "%s%n%x", ok: "sahC"},
	{name: "SQL quote", v: "x' OR '1'='1", ok: "s"},
	{name: "unicode", v: "wëb-ünïcödé", ok: "sauC"},
	{name: "empty", v: "", ok: "su"},
	{name: "lone newline", v: "\n", ok: "s"},
	{name: "overlong 300", v: strings.Repeat("a", 300), ok: "sauh"},
	{name: "overlong 5000", v: strings.Repeat("b", 5000), ok: "sauh"},
	{name: "invalid UTF-8", v: "a\xffb", ok: "s", noYAML: true},
}

func (p payload) accepts(dest byte) bool { return strings.IndexByte(p.ok, dest) >= 0 }

// yamlQuote writes s as a YAML double-quoted scalar: every control and
// non-ASCII character escaped, so the file is plain ASCII.
func yamlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\x` + hex2(int(r)))
		case r > 0x7e && r <= 0xffff:
			b.WriteString(`\u` + hex2(int(r)>>8) + hex2(int(r)&0xff))
		case r > 0xffff:
			b.WriteString(`\U` + hex2(int(r)>>24) + hex2(int(r)>>16&0xff) + hex2(int(r)>>8&0xff) + hex2(int(r)&0xff))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func hex2(n int) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[n>>4&0xf], digits[n&0xf]})
}
