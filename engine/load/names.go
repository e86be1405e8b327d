package load

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/zdu-dev/zdu/engine/spec"
	"github.com/zdu-dev/zdu/steps/lb"
)

// CheckNodeName checks a node's name. A node's name is its server name in a
// load balancer unless the servers map says otherwise, it is in log lines
// and file names, and commands can read it (node.name): so it must be one
// word wherever it goes, with no separator a load balancer's command
// language, a shell, a log or a path would split on. The rule is HAProxy's
// for server names, without a leading '-' (read as an option) or '.'
// (a hidden file, "..").
func CheckNodeName(name string) error {
	if name != "" && (name[0] == '-' || name[0] == '.') {
		return fmt.Errorf("a name cannot start with %q: it must start with a letter, a digit or '_'", name[0])
	}
	return lb.CheckName(name)
}

// checkName records a problem at pos when name breaks check. what is the
// name's kind ("node name", "server name"...).
func checkName(probs *Problems, pos spec.Pos, path, what, name string, check func(string) error) bool {
	err := check(name)
	if err == nil {
		return true
	}
	probs.At(pos, path, "%s %s: %v", what, shownName(name), err)
	return false
}

// shownName quotes a name for a message, every character visible, a long
// one cut.
func shownName(s string) string {
	const max = 48
	if len(s) > max {
		return strconv.QuoteToASCII(s[:max]) + "..."
	}
	return strconv.QuoteToASCII(s)
}

// checkVars refuses a NUL byte in a variable's value: no destination can
// hold one (a shell word, an environment variable, a URL, a runtime API
// command), so it is refused here, at the value, rather than when a step
// inserts it.
func checkVars(v spec.Vars, path func() string, probs *Problems) {
	for _, k := range v.Names {
		if at, ok := nulIn(v.Values[k.V]); ok {
			pos := k.Pos
			if n := v.Nodes[k.V]; n != nil {
				pos = spec.PosOf(n)
			}
			probs.At(pos, path()+"."+k.V, "var %s holds a NUL byte%s, which no command, URL or file can hold", k.V, at)
		}
	}
}

// nulIn finds a NUL byte in a string of v, however deep in lists and maps.
func nulIn(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		if i := strings.IndexByte(x, 0); i >= 0 {
			return fmt.Sprintf(" (at byte %d)", i), true
		}
	case []any:
		for i, e := range x {
			if at, ok := nulIn(e); ok {
				return fmt.Sprintf(" in element %d%s", i, at), true
			}
		}
	case map[string]any:
		for k, e := range x {
			if at, ok := nulIn(e); ok {
				return fmt.Sprintf(" in %s%s", k, at), true
			}
		}
	}
	return "", false
}
