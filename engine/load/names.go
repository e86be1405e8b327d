package load

import (
	"fmt"
	"strconv"

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
