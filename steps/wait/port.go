package wait

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/zdu-dev/zdu/steps/step"
)

const portSchema = `{
  "type": "object",
  "additionalProperties": false,
  "required": ["port"],
  "properties": {
    "port": {"type": ["integer", "string"], "description": "TCP port, a number or a ${{ }} template that renders to one."},
    "host": {"type": "string", "description": "Host to connect to. Default: the node's host from the control node, 127.0.0.1 from the node itself."},
    "from": {"enum": ["control", "node"], "default": "control", "description": "control: connect from the machine running zdu; node: connect from the node, through its transport (SSH direct-tcpip), e.g. for a port bound to loopback."},
    "state": {"enum": ["open", "closed"], "default": "open", "description": "open: wait until a connection succeeds; closed: until connections are refused."},
    "connectTimeout": {` + durationSchema + `, "default": "2s", "description": "Longest wait for one connection attempt."},` + timingProps + `
  }
}`

func init() {
	step.Register(step.Definition{
		Idempotent: true,
		Type:       "wait-port", Summary: "wait until a TCP port accepts (or refuses) connections",
		Schema: []byte(portSchema), Build: buildPort,
	})
}

type portWait struct {
	port, host     step.Template
	from, state    string
	connectTimeout time.Duration
	timing
}

var _ step.Action = (*portWait)(nil)

func buildPort(a step.Args) step.Action {
	return &portWait{
		port: a.Checked("port", true, CheckPortValue), host: a.Checked("host", false, CheckHostValue),
		from: a.Enum("from", "control", "node"), state: a.Enum("state", "open", "closed"),
		connectTimeout: a.Duration("connectTimeout", 2*time.Second), timing: readTiming(a),
	}
}

func (w *portWait) addr(rc step.Context) (string, error) {
	env := rc.Env()
	p, err := w.port.Render(env)
	if err != nil {
		return "", fmt.Errorf("port: %w", err)
	}
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("port: %q is not a TCP port", p)
	}
	host := ""
	if !w.host.IsZero() {
		if host, err = w.host.Render(env); err != nil {
			return "", fmt.Errorf("host: %w", err)
		}
	} else if w.from == "node" {
		host = "127.0.0.1"
	} else {
		host = rc.Node().Host
	}
	return net.JoinHostPort(host, p), nil
}

func fromWhere(rc step.Context, from string) string {
	if from == "node" {
		return rc.Node().Name
	}
	return "the control node"
}

func (w *portWait) Run(ctx context.Context, rc step.Context) (step.Outcome, error) {
	addr, err := w.addr(rc)
	if err != nil {
		return step.Outcome{ExitCode: -1}, err
	}
	dial := rc.Control().Dial
	if w.from == "node" {
		dial = rc.Transport().Dial
	}
	check := func(ctx context.Context) (bool, string, error) {
		cctx, cancel := context.WithTimeout(ctx, w.connectTimeout)
		defer cancel()
		c, err := dial(cctx, "tcp", addr)
		if err != nil {
			return w.state == "closed", "no connection: " + err.Error(), nil
		}
		c.Close()
		return w.state == "open", "connected", nil
	}
	label := fmt.Sprintf("wait-port %s from %s", addr, fromWhere(rc, w.from))
	n, seen, err := Poll(ctx, rc, label, w.interval, w.timeout, check)
	out := step.Outcome{Data: map[string]any{"attempts": n, "address": addr, "seen": seen}}
	if err != nil {
		out.ExitCode = 1
	}
	return out, err
}

func (w *portWait) Explain(rc step.Context) ([]string, error) {
	addr, err := w.addr(rc)
	if err != nil {
		return nil, err
	}
	verb := "accepts"
	if w.state == "closed" {
		verb = "refuses"
	}
	return []string{fmt.Sprintf("wait until tcp %s %s connections from %s (connect timeout %s); %s",
		addr, verb, fromWhere(rc, w.from), w.connectTimeout, w.timing)}, nil
}
