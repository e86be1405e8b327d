// Package exec holds the command step types: ssh-exec runs a command on the
// node through its transport (SSH, or local for sandboxes), local-exec runs it
// on the control node. Interpolated values in the command are shell-quoted.
package exec

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/transport"
)

const schema = `{
  "type": "object",
  "additionalProperties": false,
  "required": ["command"],
  "properties": {
    "command": {"type": "string", "description": "Shell command, run with sh -c. ${{ expr }} values are single-quoted; ${{ raw expr }} inserts a trusted fragment as is."},
    "dir": {"type": "string", "description": "Working directory (interpolated, passed quoted)."},
    "stdin": {"type": "string", "description": "Text sent to the command's standard input."},
    "become": {"type": "boolean", "default": false, "description": "Run through non-interactive sudo (sudo -n)."},
    "okCodes": {"type": "array", "items": {"type": "integer"}, "description": "Exit codes that count as success (default [0])."}
  }
}`

func init() {
	step.Register(step.Definition{
		Type: "ssh-exec", Summary: "run a shell command on the node",
		Schema: []byte(schema), Build: func(a step.Args) step.Action { return build(a, false) },
	})
	step.Register(step.Definition{
		Type: "local-exec", Summary: "run a shell command on the control node",
		Schema: []byte(schema), Build: func(a step.Args) step.Action { return build(a, true) },
	})
}

type execStep struct {
	local   bool
	command step.Template
	dir     step.Template
	stdin   step.Template
	become  bool
	ok      []int
}

var _ step.Action = (*execStep)(nil)

func build(a step.Args, local bool) step.Action {
	s := &execStep{
		local: local, command: a.Shell("command", true), dir: a.Text("dir", false),
		stdin: a.Text("stdin", false), become: a.Bool("become", false), ok: []int{0},
	}
	if a.Has("okCodes") {
		s.ok = nil
		for _, t := range a.Texts("okCodes") {
			var c int
			if _, err := fmt.Sscan(t.Source(), &c); err != nil {
				a.Errorf("okCodes", "%q is not an exit code", t.Source())
				continue
			}
			s.ok = append(s.ok, c)
		}
	}
	return s
}

func (s *execStep) cmd(rc step.Context) (transport.Command, error) {
	env := rc.Env()
	script, err := s.command.Render(env)
	if err != nil {
		return transport.Command{}, fmt.Errorf("command: %w", err)
	}
	c := transport.Command{Script: script, Become: s.become}
	if c.Dir, err = s.dir.Render(env); err != nil {
		return c, fmt.Errorf("dir: %w", err)
	}
	if !s.stdin.IsZero() {
		in, err := s.stdin.Render(env)
		if err != nil {
			return c, fmt.Errorf("stdin: %w", err)
		}
		c.Stdin = strings.NewReader(in)
	}
	return c, nil
}

func (s *execStep) where(rc step.Context) (transport.Transport, string) {
	if s.local {
		return rc.Control(), "control node"
	}
	return rc.Transport(), rc.Node().Name
}

// Run runs the command, streaming its output to the node log in the seed's
// framed style.
func (s *execStep) Run(ctx context.Context, rc step.Context) (step.Outcome, error) {
	c, err := s.cmd(rc)
	if err != nil {
		return step.Outcome{ExitCode: -1}, err
	}
	tr, where := s.where(rc)
	log := rc.Log()
	fmt.Fprintf(log, "------------- ZDU_EXEC_CMD -------------\ncommand [\n%s\n]\n", indent(transport.Script(c)))
	c.Stdout, c.Stderr = log, log
	res, err := tr.Run(ctx, c)
	out := step.Outcome{ExitCode: res.ExitCode, Stdout: string(res.Stdout), Stderr: string(res.Stderr)}
	fmt.Fprintf(log, "exit code %d\n------------- ZDU_EXEC_CMD -------------\n", res.ExitCode)
	if err != nil {
		if out.ExitCode == 0 {
			out.ExitCode = -1
		}
		return out, fmt.Errorf("running on %s: %w", where, err)
	}
	for _, ok := range s.ok {
		if res.ExitCode == ok {
			return out, nil
		}
	}
	return out, &step.ExitError{Code: res.ExitCode, Msg: "command failed on " + where + lastLine(res.Stderr)}
}

// Explain shows the exact text the transport sends.
func (s *execStep) Explain(rc step.Context) ([]string, error) {
	c, err := s.cmd(rc)
	if err != nil {
		return nil, err
	}
	_, where := s.where(rc)
	line := "exec on " + where + ": " + transport.Script(c)
	if c.Stdin != nil {
		b, _ := io.ReadAll(c.Stdin)
		line += fmt.Sprintf(" (stdin: %d bytes)", len(b))
	}
	return []string{line}, nil
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

func lastLine(stderr []byte) string {
	s := strings.TrimSpace(string(stderr))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return ""
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return ": " + s
}
