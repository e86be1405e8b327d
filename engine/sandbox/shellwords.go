package sandbox

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/zdu-dev/zdu/steps/transport"
	zssh "github.com/zdu-dev/zdu/steps/transport/ssh"
)

// Unwrap takes off what the transport adds around a step's command (see
// transport.Script): the sudo wrapper of become, the cd of dir, the
// exports of env. It returns the command as the plan wrote it, and the
// directory it runs in ("" when none).
func Unwrap(script string) (command, dir string) {
	s := unwrapProcGroup(script)
	if rest, ok := strings.CutPrefix(s, "sudo -n -- sh -c "); ok {
		if w, tail, ok := transport.Unquote(rest); ok && tail == "" {
			s = w
		}
	}
	for {
		if rest, ok := strings.CutPrefix(s, "cd "); ok {
			if w, tail, ok := transport.Unquote(rest); ok && strings.HasPrefix(tail, " && ") {
				dir, s = w, strings.TrimPrefix(tail, " && ")
				continue
			}
		}
		if rest, ok := strings.CutPrefix(s, "export "); ok {
			if eq := strings.IndexByte(rest, '='); eq > 0 && isName(rest[:eq]) {
				if _, tail, ok := transport.Unquote(rest[eq+1:]); ok && strings.HasPrefix(tail, "; ") {
					s = strings.TrimPrefix(tail, "; ")
					continue
				}
			}
		}
		return s, dir
	}
}

// unwrapProcGroup returns the script inside the SSH transport's process
// group wrapper, or script itself when it has none.
func unwrapProcGroup(script string) string {
	if inner, _, ok := zssh.Unwrap(script); ok {
		return inner
	}
	return script
}

// killScriptRE is the SSH transport's kill of a command's process group
// on a timeout (steps/transport/ssh killScript).
var killScriptRE = regexp.MustCompile(`^(?:sudo -n sh -c ')?kill -TERM -([0-9]+) 2>/dev/null \|\| exit 0; i=0; while \[ \$i -lt [0-9]+ \] && kill -0 -[0-9]+ 2>/dev/null; do sleep 0\.1 2>/dev/null \|\| sleep 1; i=\$\(\(i\+1\)\); done; kill -KILL -[0-9]+ 2>/dev/null; exit 0'?$`)

// killTarget is the process group a transport kill script ends, or 0.
func killTarget(script string) int {
	m := killScriptRE.FindStringSubmatch(script)
	if m == nil {
		return 0
	}
	pgid, _ := strconv.Atoi(m[1])
	return pgid
}

func isName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// words splits a simple command into its words, quotes removed. ok is
// false when the text is more than one simple command or uses the shell
// beyond quoting: an unquoted ; & | < > ( ) $ ` or a newline.
func words(s string) (out []string, ok bool) {
	var cur strings.Builder
	in := false
	flush := func() {
		if in {
			out = append(out, cur.String())
			cur.Reset()
			in = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			flush()
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, false
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			in = true
		case c == '"':
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 || strings.ContainsAny(s[i+1:i+1+end], "$`\\") {
				return nil, false
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			in = true
		case c == '\\' && i+1 < len(s) && s[i+1] != '\n':
			cur.WriteByte(s[i+1])
			i++
			in = true
		case strings.IndexByte(";&|<>()$`\n\\*?[]{}~#", c) >= 0:
			return nil, false
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	flush()
	return out, len(out) > 0
}

// dequote is the command with the quotes of its words taken off, when it
// is one simple command.
func dequote(s string) (string, bool) {
	w, ok := words(s)
	if !ok {
		return "", false
	}
	return strings.Join(w, " "), true
}
