package poll

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"time"

	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/transport"
)

func init() {
	step.Register(step.Definition{
		Type: "wait-port", Summary: "wait until a TCP port accepts connections (or refuses them)",
		Schema: []byte(`{
  "type": "object", "additionalProperties": false, "required": ["port"],
  "properties": {
    "host": {"type": "string", "description": "Host to connect to (default: the node's host, or 127.0.0.1 from the node)."},
    "port": {"type": ["integer", "string"], "description": "TCP port."},
    "from": {"enum": ["control", "node"], "default": "control", "description": "Connect from the control node, or from the node itself (through its transport)."},
    "state": {"enum": ["open", "closed"], "default": "open", "description": "Wait until it accepts, or until it refuses."},` + commonProps + `
  }
}`),
		Build: func(a step.Args) step.Action {
			return &waitPort{host: a.Text("host", false), port: a.Text("port", true), fromNode: a.Enum("from", "control", "node") == "node",
				open: a.Enum("state", "open", "closed") == "open", interval: a.Duration("interval", 500*time.Millisecond), timeout: a.Duration("timeout", 0)}
		},
	})
	step.Register(step.Definition{
		Type: "wait-http", Summary: "wait until an HTTP endpoint answers with the expected status (and body)",
		Schema: []byte(`{
  "type": "object", "additionalProperties": false, "required": ["url"],
  "properties": {
    "url": {"type": "string", "description": "URL to GET, e.g. http://${{ raw node.host }}:8080/health."},
    "status": {"type": "integer", "default": 200, "description": "Expected status code."},
    "body": {"type": "string", "description": "Regular expression the body must match."},
    "from": {"enum": ["control", "node"], "default": "control", "description": "Request from the control node, or from the node itself (connecting through its transport)."},` + commonProps + `
  }
}`),
		Build: func(a step.Args) step.Action {
			w := &waitHTTP{url: a.Text("url", true), status: a.Int("status", 200), fromNode: a.Enum("from", "control", "node") == "node",
				interval: a.Duration("interval", 500*time.Millisecond), timeout: a.Duration("timeout", 0)}
			if a.Has("body") {
				src := a.Text("body", false).Source()
				re, err := regexp.Compile(src)
				if err != nil {
					a.Errorf("body", "not a regular expression: %v", err)
				}
				w.body = re
			}
			return w
		},
	})
}

type waitPort struct {
	host, port        step.Template
	fromNode, open    bool
	interval, timeout time.Duration
}

func (w *waitPort) addr(rc step.Context) (string, error) {
	host, err := w.host.Render(rc.Env())
	if err != nil {
		return "", err
	}
	if host == "" {
		host = rc.Node().Host
		if w.fromNode {
			host = "127.0.0.1"
		}
	}
	port, err := w.port.Render(rc.Env())
	return net.JoinHostPort(host, port), err
}

func (w *waitPort) dialer(rc step.Context) transport.Transport {
	if w.fromNode {
		return rc.Transport()
	}
	return rc.Control()
}

func (w *waitPort) Run(ctx context.Context, rc step.Context) (step.Outcome, error) {
	addr, err := w.addr(rc)
	if err != nil {
		return step.Outcome{ExitCode: -1}, err
	}
	want := map[bool]string{true: "open", false: "closed"}[w.open]
	err = until(ctx, rc.Log(), fmt.Sprintf("port %s %s", addr, want), w.interval, w.timeout,
		func(ctx context.Context) (bool, string, error) {
			dctx, cancel := context.WithTimeout(ctx, w.interval+time.Second)
			defer cancel()
			c, err := w.dialer(rc).Dial(dctx, "tcp", addr)
			if err == nil {
				c.Close()
			}
			detail := "connected"
			if err != nil {
				detail = err.Error()
			}
			return (err == nil) == w.open, detail, nil
		})
	if err != nil {
		return step.Outcome{ExitCode: 1}, err
	}
	return step.Outcome{}, nil
}

func (w *waitPort) Explain(rc step.Context) ([]string, error) {
	addr, err := w.addr(rc)
	from := "the control node"
	if w.fromNode {
		from = rc.Node().Name
	}
	return []string{fmt.Sprintf("wait until tcp %s is %s, connecting from %s every %s (timeout %s)",
		addr, map[bool]string{true: "open", false: "closed"}[w.open], from, w.interval, orDefault(w.timeout))}, err
}

type waitHTTP struct {
	url               step.Template
	status            int
	body              *regexp.Regexp
	fromNode          bool
	interval, timeout time.Duration
}

func (w *waitHTTP) client(rc step.Context) *http.Client {
	tr := rc.Control()
	if w.fromNode {
		tr = rc.Transport()
	}
	return &http.Client{
		Timeout: w.interval + 5*time.Second,
		Transport: &http.Transport{
			DialContext:       func(ctx context.Context, n, a string) (net.Conn, error) { return tr.Dial(ctx, n, a) },
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (w *waitHTTP) Run(ctx context.Context, rc step.Context) (step.Outcome, error) {
	url, err := w.url.Render(rc.Env())
	if err != nil {
		return step.Outcome{ExitCode: -1}, err
	}
	c := w.client(rc)
	var code int
	var body string
	err = until(ctx, rc.Log(), fmt.Sprintf("GET %s answers %d", url, w.status), w.interval, w.timeout,
		func(ctx context.Context) (bool, string, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return false, "", err
			}
			resp, err := c.Do(req)
			if err != nil {
				return false, err.Error(), nil
			}
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			code, body = resp.StatusCode, string(b)
			if code != w.status {
				return false, fmt.Sprintf("status %d", code), nil
			}
			if w.body != nil && !w.body.MatchString(body) {
				return false, "body does not match " + w.body.String(), nil
			}
			return true, "", nil
		})
	out := step.Outcome{Stdout: body, Data: map[string]any{"status": code}}
	if err != nil {
		out.ExitCode = 1
		return out, err
	}
	return out, nil
}

func (w *waitHTTP) Explain(rc step.Context) ([]string, error) {
	url, err := w.url.Render(rc.Env())
	from := "the control node"
	if w.fromNode {
		from = rc.Node().Name
	}
	line := fmt.Sprintf("wait until GET %s answers %d", url, w.status)
	if w.body != nil {
		line += " with a body matching " + w.body.String()
	}
	return []string{line + fmt.Sprintf(", from %s every %s (timeout %s)", from, w.interval, orDefault(w.timeout))}, err
}
