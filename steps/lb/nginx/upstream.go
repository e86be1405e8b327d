package nginx

import (
	"fmt"
	"regexp"
	"strings"
)

// serverLine is one `server ADDR [params];` directive of an upstream block.
type serverLine struct {
	line   int // index in the file's lines
	addr   string
	params []string
}

func (s serverLine) has(p string) bool {
	for _, x := range s.params {
		if x == p {
			return true
		}
	}
	return false
}

// upstream is an upstream block found in a file, line by line.
type upstream struct {
	lines   []string
	servers []serverLine
}

var upstreamStart = regexp.MustCompile(`^\s*upstream\s+(\S+)\s*(\{)?\s*(#.*)?$`)

// parseUpstream finds upstream `name` in content. It reads the simple layout
// an operator writes by hand: the block's directives one per line; a server
// directive spread over several lines is refused rather than guessed at.
func parseUpstream(content, name string) (*upstream, error) {
	u := &upstream{lines: strings.Split(content, "\n")}
	start := -1
	for i, l := range u.lines {
		m := upstreamStart.FindStringSubmatch(l)
		if m == nil || m[1] != name {
			continue
		}
		if start >= 0 {
			return nil, fmt.Errorf("upstream %q is defined twice (lines %d and %d)", name, start+1, i+1)
		}
		start = i
		if m[2] == "" {
			// The brace on the next non-blank line.
			for i+1 < len(u.lines) && strings.TrimSpace(u.lines[i+1]) == "" {
				i++
			}
			if i+1 >= len(u.lines) || strings.TrimSpace(u.lines[i+1]) != "{" {
				return nil, fmt.Errorf("line %d: upstream %q: expected `{` on its own line after it", start+1, name)
			}
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("no `upstream %s {` block", name)
	}
	depth := 0
	for i := start; i < len(u.lines); i++ {
		code := stripComment(u.lines[i])
		if depth == 1 {
			if f := strings.Fields(code); len(f) > 0 && f[0] == "server" {
				s, err := parseServer(code, i)
				if err != nil {
					return nil, err
				}
				u.servers = append(u.servers, s)
			}
		}
		depth += strings.Count(code, "{") - strings.Count(code, "}")
		if depth == 0 && i > start && strings.Contains(code, "}") {
			return u, nil
		}
	}
	return nil, fmt.Errorf("line %d: upstream %q has no closing `}`", start+1, name)
}

func parseServer(code string, i int) (serverLine, error) {
	body, _, ok := strings.Cut(code, ";")
	if !ok {
		return serverLine{}, fmt.Errorf("line %d: server directive does not end with `;` on its line (zdu edits one directive per line)", i+1)
	}
	f := strings.Fields(body)
	if len(f) < 2 {
		return serverLine{}, fmt.Errorf("line %d: server directive without an address", i+1)
	}
	return serverLine{line: i, addr: f[1], params: f[2:]}, nil
}

func stripComment(l string) string {
	if i := strings.IndexByte(l, '#'); i >= 0 {
		return l[:i]
	}
	return l
}

// find returns the server directive for server: its address exactly, or,
// for a name without a port, the one address on that host.
func (u *upstream) find(name, server string) (serverLine, error) {
	var hits []serverLine
	for _, s := range u.servers {
		if s.addr == server {
			return s, nil
		}
		if host, _, ok := strings.Cut(s.addr, ":"); ok && !strings.Contains(server, ":") && host == server {
			hits = append(hits, s)
		}
	}
	if len(hits) == 1 {
		return hits[0], nil
	}
	addrs := make([]string, len(u.servers))
	for i, s := range u.servers {
		addrs[i] = s.addr
	}
	if len(hits) > 1 {
		return serverLine{}, fmt.Errorf("upstream %q has %d servers on host %s %v; name the address (host:port) in the inventory's servers map", name, len(hits), server, addrs)
	}
	return serverLine{}, fmt.Errorf("upstream %q has no server %q (it has %v); map the node to its address in the inventory's servers map", name, server, addrs)
}

// serving lists the other servers that take traffic: not down, not backup.
func (u *upstream) serving(except serverLine) []string {
	var out []string
	for _, s := range u.servers {
		if s.line != except.line && !s.has("down") && !s.has("backup") {
			out = append(out, s.addr)
		}
	}
	return out
}

// setDown returns the file with s marked down (or not), keeping every other
// byte of the line: indentation, other parameters, a trailing comment.
func (u *upstream) setDown(s serverLine, down bool) (string, bool) {
	if s.has("down") == down {
		return strings.Join(u.lines, "\n"), false
	}
	l := u.lines[s.line]
	semi := strings.IndexByte(l, ';')
	head, tail := l[:semi], l[semi:]
	indent := head[:len(head)-len(strings.TrimLeft(head, " \t"))]
	f := strings.Fields(head)
	kept := f[:2:2]
	for _, p := range f[2:] {
		if p != "down" {
			kept = append(kept, p)
		}
	}
	if down {
		kept = append(kept, "down")
	}
	out := append([]string(nil), u.lines...)
	out[s.line] = indent + strings.Join(kept, " ") + tail
	return strings.Join(out, "\n"), true
}
