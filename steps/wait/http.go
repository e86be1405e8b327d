package wait

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/zdu-dev/zdu/steps/step"
)

const httpSchema = `{
  "type": "object",
  "additionalProperties": false,
  "required": ["url"],
  "properties": {
    "url": {"type": "string", "description": "http:// or https:// URL to request, e.g. http://${{ raw node.host }}:8080/healthz."},
    "status": {"type": "integer", "minimum": 100, "maximum": 599, "default": 200, "description": "The status code that passes."},
    "body": {"type": "string", "description": "Regular expression (Go syntax) the response body must also match, e.g. \"version\":\"7\\\\.7\"."},
    "method": {"enum": ["GET", "HEAD"], "default": "GET", "description": "Request method."},
    "from": {"enum": ["control", "node"], "default": "control", "description": "control: request from the machine running zdu; node: from the node itself, through its transport (SSH direct-tcpip), e.g. for a service bound to loopback."},
    "insecure": {"type": "boolean", "default": false, "description": "Accept any TLS certificate (self-signed health endpoints)."},
    "attemptTimeout": {` + durationSchema + `, "default": "5s", "description": "Longest wait for one request."},` + timingProps + `
  }
}`

func init() {
	step.Register(step.Definition{
		Idempotent: true,
		Type:       "wait-http", Summary: "wait until a URL answers with a status (and a body matching a regex)",
		Schema: []byte(httpSchema), Build: buildHTTP,
	})
}

// HTTPProbe requests a URL once and says whether the answer passes.
type HTTPProbe struct {
	URL    string
	Method string // default GET
	Status int    // default 200
	Body   *regexp.Regexp
	// Dial opens connections; nil dials from this machine.
	Dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	Insecure bool
	// AttemptTimeout bounds one request (default 5s).
	AttemptTimeout time.Duration

	client *http.Client
}

// maxBody is how much of a body is read and kept.
const maxBody = 64 << 10

// Check is a wait.Check: one request; body is what was read of the answer.
func (p *HTTPProbe) Check(ctx context.Context) (ok bool, seen string, err error) {
	ok, seen, _, err = p.check(ctx)
	return ok, seen, err
}

func (p *HTTPProbe) check(ctx context.Context) (bool, string, string, error) {
	if p.client == nil {
		tr := &http.Transport{DisableKeepAlives: true, DialContext: p.Dial}
		if p.Insecure {
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		}
		// Redirects are followed: a health URL that redirects ends where it points.
		p.client = &http.Client{Transport: tr}
	}
	want, method, to := p.Status, p.Method, p.AttemptTimeout
	if want == 0 {
		want = http.StatusOK
	}
	if method == "" {
		method = http.MethodGet
	}
	if to <= 0 {
		to = 5 * time.Second
	}
	rctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, method, p.URL, nil)
	if err != nil {
		return false, "", "", fmt.Errorf("url %q: %w", p.URL, err)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return false, "no answer: " + err.Error(), "", nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return false, fmt.Sprintf("status %d, body cut: %v", resp.StatusCode, err), "", nil
	}
	body := string(b)
	if resp.StatusCode != want {
		return false, fmt.Sprintf("status %d (want %d): %s", resp.StatusCode, want, excerpt(body)), body, nil
	}
	if p.Body != nil && !p.Body.Match(b) {
		return false, fmt.Sprintf("status %d, body does not match %s: %s", resp.StatusCode, p.Body, excerpt(body)), body, nil
	}
	return true, fmt.Sprintf("status %d", resp.StatusCode), body, nil
}

func excerpt(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return fmt.Sprintf("%q", s)
}

type httpWait struct {
	url, body      step.Template
	status         int
	method, from   string
	insecure       bool
	attemptTimeout time.Duration
	timing
}

var _ step.Action = (*httpWait)(nil)

func buildHTTP(a step.Args) step.Action {
	w := &httpWait{
		url: a.Checked("url", true, CheckURLValue), body: a.Text("body", false), status: a.Int("status", 200),
		method: a.Enum("method", "GET", "HEAD"), from: a.Enum("from", "control", "node"),
		insecure: a.Bool("insecure", false), attemptTimeout: a.Duration("attemptTimeout", 5*time.Second),
		timing: readTiming(a),
	}
	if w.status < 100 || w.status > 599 {
		a.Errorf("status", "%d is not an HTTP status", w.status)
	}
	// A body regex without interpolation is checked now, so validate reports it.
	if src := w.body.Source(); !w.body.IsZero() && !strings.Contains(src, "${{") {
		if _, err := regexp.Compile(src); err != nil {
			a.Errorf("body", "not a regular expression: %v", err)
		}
	}
	return w
}

func (w *httpWait) probe(rc step.Context) (*HTTPProbe, error) {
	env := rc.Env()
	u, err := w.url.Render(env)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return nil, fmt.Errorf("url: %q is not an http:// or https:// URL", u)
	}
	p := &HTTPProbe{URL: u, Method: w.method, Status: w.status, Insecure: w.insecure, AttemptTimeout: w.attemptTimeout}
	if !w.body.IsZero() {
		src, err := w.body.Render(env)
		if err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
		if p.Body, err = regexp.Compile(src); err != nil {
			return nil, fmt.Errorf("body: not a regular expression: %w", err)
		}
	}
	return p, nil
}

func (w *httpWait) Run(ctx context.Context, rc step.Context) (step.Outcome, error) {
	p, err := w.probe(rc)
	if err != nil {
		return step.Outcome{ExitCode: -1}, err
	}
	if w.from == "node" {
		p.Dial = rc.Transport().Dial
	} else {
		p.Dial = rc.Control().Dial
	}
	var body string
	check := func(ctx context.Context) (bool, string, error) {
		ok, seen, b, err := p.check(ctx)
		body = b
		return ok, seen, err
	}
	label := fmt.Sprintf("wait-http %s %s from %s", p.Method, p.URL, fromWhere(rc, w.from))
	n, seen, err := Poll(ctx, rc, label, w.interval, w.timeout, check)
	out := step.Outcome{Stdout: body, Data: map[string]any{"attempts": n, "url": p.URL, "seen": seen}}
	if err != nil {
		out.ExitCode = 1
	}
	return out, err
}

func (w *httpWait) Explain(rc step.Context) ([]string, error) {
	p, err := w.probe(rc)
	if err != nil {
		return nil, err
	}
	cond := fmt.Sprintf("status %d", p.Status)
	if p.Body != nil {
		cond += " and a body matching " + p.Body.String()
	}
	return []string{fmt.Sprintf("wait until %s %s from %s answers %s (each request up to %s); %s",
		p.Method, p.URL, fromWhere(rc, w.from), cond, p.AttemptTimeout, w.timing)}, nil
}
