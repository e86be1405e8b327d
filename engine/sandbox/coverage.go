package sandbox

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/zdu-dev/zdu/engine/run"
)

// Uncovered is one command of a plan's dry run that nothing in the
// rehearsal covers: running it would run it for real.
type Uncovered struct {
	// Where names the step: "phase P, node N, step S (FILE:LINE)" or
	// "rollback R, node N, step S".
	Where   string
	Command string
	// Local: a local-exec step (it would run on this machine).
	Local bool
}

func (u Uncovered) String() string {
	where := "on the node"
	if u.Local {
		where = "on this machine (local-exec: only allow covers it)"
	}
	return fmt.Sprintf("%s, %s: %s", u.Where, where, oneLine(u.Command))
}

var stdinNote = regexp.MustCompile(` \(stdin: \d+ bytes\)$`)

// Uncovered lists the commands of the dry run no stand-in, allow pattern
// or built-in stand-in covers, each once per step (the first node's).
func (s *Sandbox) Uncovered(dry *run.DryPlan) []Uncovered {
	roots := map[string]string{}
	for _, n := range s.Nodes {
		roots[n.Spec.Name] = n.Layout.Root
	}
	r := s.cfg.Rehearsal
	var out []Uncovered
	seen := map[string]bool{}
	check := func(where, node string, st run.DryStep) {
		if st.Type != "ssh-exec" && st.Type != "local-exec" {
			return
		}
		for _, a := range st.Actions {
			rest, ok := strings.CutPrefix(a, "exec on ")
			if !ok {
				continue
			}
			_, script, ok := strings.Cut(rest, ": ")
			if !ok {
				continue
			}
			script = stdinNote.ReplaceAllString(script, "")
			local := st.Type == "local-exec"
			if how, _ := r.Coverage(script, roots[node], local); how != "" {
				continue
			}
			cmd, _ := Unwrap(script)
			key := st.ID + "\x00" + cmd
			if seen[key] {
				continue
			}
			seen[key] = true
			w := where + ", step " + st.ID
			if st.Origin != "" {
				w += " (" + st.Origin + ")"
			}
			out = append(out, Uncovered{Where: w, Command: cmd, Local: local})
		}
	}
	for _, ph := range dry.Phases {
		for _, n := range ph.Nodes {
			for _, st := range n.Steps {
				check("phase "+ph.ID+", node "+n.Name, n.Name, st)
			}
		}
	}
	for _, rb := range dry.Rollbacks {
		for _, st := range rb.Steps {
			check("rollback "+rb.Name+", node "+rb.Node, rb.Node, st)
		}
	}
	return out
}
