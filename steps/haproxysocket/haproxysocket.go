// Package haproxysocket is the haproxy-socket step type: send runtime API
// command lines (templated) to every instance of a load balancer from the
// inventory, or to one explicit unix socket or TCP address, reached from the
// control node or through another node's transport; capture each answer, and
// optionally check it against a regular expression once (expect) or until it
// matches (until). The socket's level is checked first: a socket below the
// level the plan asks for (admin by default) is refused, naming the socket.
package haproxysocket

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/zdu-dev/zdu/steps/lb/haproxy"
	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/wait"
)

const durationSchema = `"type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"`

const schema = `{
  "type": "object",
  "additionalProperties": false,
  "required": ["commands"],
  "oneOf": [{"required": ["lb"]}, {"required": ["socket"]}, {"required": ["address"]}],
  "properties": {
    "lb": {"type": "string", "description": "Load balancer from the inventory (driver haproxy): the commands go to every one of its instances."},
    "socket": {"type": "string", "description": "Path of an HAProxy stats socket (instead of lb), e.g. /run/haproxy/admin.sock."},
    "address": {"type": "string", "description": "host:port of an HAProxy stats socket on TCP (instead of lb), e.g. 127.0.0.1:9999."},
    "via": {"type": "string", "description": "With socket or address: the inventory node whose transport reaches it (through SSH for a remote host). Default: the control node."},
    "commands": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}], "description": "Runtime API command line(s), sent one per connection, in order, e.g. set server app/${{ node.name }} state drain. ${{ }} values are inserted as they are, each one word: a value holding ';', a line break, a NUL, '\\', white space (except in ${{ raw }}), '<<', or a control or invisible character is refused; a line must not contain a newline."},
    "expect": {"type": "string", "description": "Regular expression (Go syntax; ${{ }} values inserted as they are) the answers must match, on every instance; the step fails otherwise. The answers of all commands are joined with newlines."},
    "until": {"type": "string", "description": "Regular expression (like expect): send the commands again every interval until the answers match on every instance, up to timeout."},
    "interval": {` + durationSchema + `, "default": "1s", "description": "With until: time between two rounds."},
    "timeout": {` + durationSchema + `, "default": "1m", "description": "With until: give up after this long."},
    "level": {"enum": ["admin", "operator", "user"], "default": "admin", "description": "The lowest runtime API level the socket must have (checked with show cli level before any command)."}
  }
}`

func init() {
	step.Register(step.Definition{
		Type: "haproxy-socket", Summary: "send HAProxy runtime API commands to a load balancer's sockets and check the answers",
		Schema: []byte(schema), Build: build,
	})
}

type socketStep struct {
	lb              string
	socket, address step.Template
	via             string
	commands        []step.Template
	expect, until   step.Template // regular expressions, interpolated
	interval        time.Duration
	timeout         time.Duration
	level           string
}

var _ step.Action = (*socketStep)(nil)

func build(a step.Args) step.Action {
	s := &socketStep{
		lb: a.LB("lb", false), socket: a.Text("socket", false), address: a.Text("address", false),
		via: a.Node("via"), commands: a.CheckedTexts("commands", haproxy.CheckArg),
		interval: a.Duration("interval", time.Second), timeout: a.Duration("timeout", time.Minute),
		level: a.Enum("level", "admin", "operator", "user"),
	}
	n := 0
	for _, k := range []string{"lb", "socket", "address"} {
		if a.Has(k) {
			n++
		}
	}
	if n != 1 {
		a.Errorf("lb", "give exactly one of lb, socket or address")
	}
	if s.lb != "" && a.Has("via") {
		a.Errorf("via", "via goes with socket or address; an lb's instances say their own via")
	}
	if len(s.commands) == 0 {
		a.Errorf("commands", "give at least one command line")
	}
	for _, k := range []string{"expect", "until"} {
		if !a.Has(k) {
			continue
		}
		tm := a.Text(k, false)
		// Without interpolation the regex is checked now, so validate reports it.
		if src := tm.Source(); !strings.Contains(src, "${{") {
			if _, err := regexp.Compile(src); err != nil {
				a.Errorf(k, "not a regular expression: %v", err)
				continue
			}
		}
		if k == "expect" {
			s.expect = tm
		} else {
			s.until = tm
		}
	}
	if s.expect != nil && s.until != nil {
		a.Errorf("until", "give expect or until, not both")
	}
	if s.interval <= 0 || s.timeout <= 0 {
		a.Errorf("interval", "interval and timeout must be more than 0")
	}
	return s
}

// instances returns the sockets to talk to: an lb's instances, or the one
// explicit socket or address.
func (s *socketStep) instances(rc step.Context) ([]step.LBInstance, error) {
	if s.lb != "" {
		l, err := rc.LoadBalancer(s.lb)
		if err != nil {
			return nil, err
		}
		if l.Driver != "haproxy" {
			return nil, fmt.Errorf("load balancer %s uses the %s driver, not haproxy", l.Name, l.Driver)
		}
		return l.Instances, nil
	}
	in := step.LBInstance{Via: s.via}
	var c haproxy.Config
	var err error
	if !s.socket.IsZero() {
		c.Socket, err = s.socket.Render(rc.Env())
		in.Name = "socket"
	} else {
		c.Address, err = s.address.Render(rc.Env())
		in.Name = "address"
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.Name, err)
	}
	in.Config = c
	return []step.LBInstance{in}, nil
}

func (s *socketStep) lines(rc step.Context) ([]string, error) {
	out := make([]string, len(s.commands))
	for i, c := range s.commands {
		l, err := c.Render(rc.Env())
		if err != nil {
			return nil, fmt.Errorf("commands[%d]: %w", i, err)
		}
		if strings.ContainsAny(l, "\r\n") || strings.TrimSpace(l) == "" {
			return nil, fmt.Errorf("commands[%d]: %q is empty or spans several lines", i, l)
		}
		out[i] = l
	}
	return out, nil
}

// matcher renders and compiles expect or until (nil when neither is set).
func (s *socketStep) matcher(rc step.Context) (*regexp.Regexp, error) {
	t, key := s.expect, "expect"
	if s.until != nil {
		t, key = s.until, "until"
	}
	if t == nil {
		return nil, nil
	}
	src, err := t.Render(rc.Env())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, fmt.Errorf("%s: not a regular expression: %w", key, err)
	}
	return re, nil
}

func (s *socketStep) Run(ctx context.Context, rc step.Context) (step.Outcome, error) {
	ins, err := s.instances(rc)
	if err != nil {
		return step.Outcome{ExitCode: -1}, err
	}
	lines, err := s.lines(rc)
	if err != nil {
		return step.Outcome{ExitCode: -1}, err
	}
	re, err := s.matcher(rc)
	if err != nil {
		return step.Outcome{ExitCode: -1}, err
	}
	var clients []*haproxy.Client
	for _, in := range ins {
		c, err := haproxy.ForInstance(rc, in)
		if err != nil {
			return step.Outcome{ExitCode: -1}, err
		}
		if err := c.RequireLevel(ctx, s.level); err != nil {
			return step.Outcome{ExitCode: 1}, err
		}
		clients = append(clients, c)
	}
	answers := map[string]string{}
	round := func(ctx context.Context) (bool, string, error) {
		for i, c := range clients {
			var parts []string
			for _, l := range lines {
				fmt.Fprintf(rc.Log(), "%s: %s\n", c.Name, l)
				ans, err := c.Do(ctx, l)
				if err != nil {
					return false, "", err
				}
				parts = append(parts, ans)
			}
			answers[ins[i].Name] = strings.Join(parts, "\n")
		}
		return check(re, answers)
	}
	if s.until != nil {
		what := fmt.Sprintf("haproxy-socket until the answers match %s", re)
		_, _, err = wait.Poll(ctx, rc, what, s.interval, s.timeout, round)
	} else {
		var ok bool
		var seen string
		ok, seen, err = round(ctx)
		if err == nil && !ok {
			err = fmt.Errorf("the answer does not match expect %s: %s", re, seen)
		}
	}
	out := step.Outcome{Stdout: joinAnswers(answers, len(ins) > 1), Data: map[string]any{"answers": answers}}
	if err != nil {
		out.ExitCode = 1
	}
	return out, err
}

// check applies expect or until to every instance's answer.
func check(re *regexp.Regexp, answers map[string]string) (bool, string, error) {
	if re == nil {
		return true, "", nil
	}
	for _, name := range sortedKeys(answers) {
		if !re.MatchString(answers[name]) {
			return false, fmt.Sprintf("%s answered %q", name, excerpt(answers[name])), nil
		}
	}
	return true, "every instance matches", nil
}

func joinAnswers(answers map[string]string, named bool) string {
	var b strings.Builder
	for _, name := range sortedKeys(answers) {
		if named {
			fmt.Fprintf(&b, "# %s\n", name)
		}
		b.WriteString(answers[name])
		b.WriteString("\n")
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func excerpt(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

func (s *socketStep) Explain(rc step.Context) ([]string, error) {
	ins, err := s.instances(rc)
	if err != nil {
		return nil, err
	}
	lines, err := s.lines(rc)
	if err != nil {
		return nil, err
	}
	re, err := s.matcher(rc)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, in := range ins {
		d := haproxy.Describe(in)
		out = append(out, fmt.Sprintf("%s: show cli level (must be at least %s)", d, s.level))
		for _, l := range lines {
			out = append(out, d+": "+l)
		}
	}
	switch {
	case s.expect != nil:
		out = append(out, "expect the answers to match "+re.String()+" on every instance")
	case s.until != nil:
		out = append(out, fmt.Sprintf("repeat every %s until the answers match %s on every instance, up to %s", s.interval, re, s.timeout))
	}
	return out, nil
}
