package wait

import (
	"context"
	"fmt"
	"strings"

	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/transport"
)

const processSchema = `{
  "type": "object",
  "additionalProperties": false,
  "oneOf": [{"required": ["name"]}, {"required": ["pattern"]}, {"required": ["pidFile"]}],
  "properties": {
    "name": {"type": "string", "description": "Process name, matched exactly (pgrep -x), e.g. java."},
    "pattern": {"type": "string", "description": "Extended regular expression matched against the full command line (pgrep -f), e.g. /opt/Axway-7.7/apigateway. It matches any process of any user on the node."},
    "pidFile": {"type": "string", "description": "Path of a pid file on the node: the process whose pid it holds."},
    "state": {"enum": ["running", "stopped"], "default": "running", "description": "running: wait until at least one such process exists; stopped: until none does (a missing pid file counts as stopped)."},
    "become": {"type": "boolean", "default": false, "description": "Check through non-interactive sudo (sudo -n), e.g. for a pid file only root can read."},` + timingProps + `
  }
}`

func init() {
	step.Register(step.Definition{
		Idempotent: true,
		Type:       "wait-process", Summary: "wait until a process is running or gone on the node (by name, pattern or pid file)",
		Schema: []byte(processSchema), Build: buildProcess,
	})
}

type processWait struct {
	kind   string // name, pattern or pidFile
	value  step.Template
	state  string
	become bool
	timing
}

var _ step.Action = (*processWait)(nil)

func buildProcess(a step.Args) step.Action {
	w := &processWait{state: a.Enum("state", "running", "stopped"), become: a.Bool("become", false), timing: readTiming(a)}
	var kinds []string
	for _, k := range []string{"name", "pattern", "pidFile"} {
		if a.Has(k) {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) != 1 {
		a.Errorf("name", "give exactly one of name, pattern or pidFile (got %v)", kinds)
		return w
	}
	w.kind = kinds[0]
	w.value = a.Text(w.kind, true)
	return w
}

// The value travels on stdin, never in the script: a `pgrep -f` whose pattern
// sat in its parent shell's command line would always find that shell.
var processScripts = map[string]string{
	"name":    `IFS= read -r v; pgrep -x -- "$v"`,
	"pattern": `IFS= read -r v; pgrep -f -- "$v"`,
	"pidFile": `IFS= read -r v; [ -r "$v" ] || exit 1; p=$(tr -d ' \t\r\n' < "$v"); case $p in ''|*[!0-9]*) exit 1;; esac; if kill -0 "$p" 2>/dev/null || ps -p "$p" >/dev/null 2>&1; then echo "$p"; else exit 1; fi`,
}

var processWhat = map[string]string{
	"name": "a process named %s", "pattern": "a process whose command line matches %s", "pidFile": "the process of pid file %s",
}

// describe renders the value and returns what is awaited and the value; the
// check is processScripts[w.kind] with the value on stdin.
func (w *processWait) describe(rc step.Context) (what, value string, err error) {
	v, err := w.value.Render(rc.Env())
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", w.kind, err)
	}
	if v == "" || strings.ContainsAny(v, "\n\x00") {
		return "", "", fmt.Errorf("%s: %q is empty or holds a newline or NUL", w.kind, v)
	}
	return fmt.Sprintf(processWhat[w.kind], transport.Quote(v)), v, nil
}

func (w *processWait) command(value string) transport.Command {
	return transport.Command{Script: processScripts[w.kind], Stdin: strings.NewReader(value + "\n"), Become: w.become}
}

func (w *processWait) Run(ctx context.Context, rc step.Context) (step.Outcome, error) {
	what, value, err := w.describe(rc)
	if err != nil {
		return step.Outcome{ExitCode: -1}, err
	}
	node := rc.Node().Name
	tr := rc.Transport()
	var pids []string
	check := func(ctx context.Context) (bool, string, error) {
		res, err := tr.Run(ctx, w.command(value))
		if err != nil {
			return false, "", fmt.Errorf("checking on %s: %w", node, err)
		}
		switch res.ExitCode {
		case 0:
			pids = strings.Fields(string(res.Stdout))
			return w.state == "running", "running, pid " + strings.Join(pids, " "), nil
		case 1:
			pids = nil
			return w.state == "stopped", "not running", nil
		default:
			return false, "", fmt.Errorf("check on %s exited %d: %s", node, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
		}
	}
	label := fmt.Sprintf("wait-process on %s: %s %s", node, what, w.state)
	n, seen, err := Poll(ctx, rc, label, w.interval, w.timeout, check)
	out := step.Outcome{Stdout: strings.Join(pids, "\n"), Data: map[string]any{"attempts": n, "pids": pids, "seen": seen}}
	if err != nil {
		out.ExitCode = 1
	}
	return out, err
}

func (w *processWait) Explain(rc step.Context) ([]string, error) {
	what, value, err := w.describe(rc)
	if err != nil {
		return nil, err
	}
	return []string{fmt.Sprintf("wait on %s until %s is %s: run %s with %s on stdin; %s",
		rc.Node().Name, what, w.state, transport.Script(w.command(value)), transport.Quote(value), w.timing)}, nil
}
