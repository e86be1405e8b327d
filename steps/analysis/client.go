package analysis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zdu-dev/zdu/steps/step"
)

// maxBody bounds what is read of an answer: a metrics document, not a dump.
const maxBody = 1 << 20

// client makes the requests of one analysis: from the control node or the
// node, each bounded by a timeout and its answer by maxBody.
type client struct {
	http    *http.Client
	timeout time.Duration
	headers http.Header
}

func newClient(dial func(ctx context.Context, network, addr string) (net.Conn, error), insecure bool, timeout time.Duration, headers http.Header) *client {
	tr := &http.Transport{DialContext: dial, DisableKeepAlives: true}
	if insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	return &client{http: &http.Client{Transport: tr}, timeout: timeout, headers: headers}
}

// errTooLarge marks an answer longer than maxBody.
var errTooLarge = fmt.Errorf("answer longer than %d bytes", maxBody)

// get requests u and reads the answer. An error is no answer (or a cut
// one): the caller measures again.
func (c *client) get(ctx context.Context, u string) (int, []byte, error) {
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	for k, vs := range c.headers {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("no answer: %w", unwrapURLError(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("status %d, answer cut: %w", resp.StatusCode, err)
	}
	if len(b) > maxBody {
		return resp.StatusCode, nil, fmt.Errorf("status %d: %w", resp.StatusCode, errTooLarge)
	}
	return resp.StatusCode, b, nil
}

// unwrapURLError drops net/http's `Get "URL":` prefix: the label already
// names the URL, without its password.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// checkURL parses an http:// or https:// URL.
func checkURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %w", unwrapURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http:// or https:// URL", u.Redacted())
	}
	return u, nil
}

// parseHeader reads one `Name: value` line.
func parseHeader(line string) (string, string, error) {
	name, value, ok := strings.Cut(line, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") || strings.ContainsAny(value, "\r\n") {
		return "", "", errors.New("a header is one line, `Name: value`")
	}
	return http.CanonicalHeaderKey(name), strings.TrimSpace(value), nil
}

// request is what both step types share about how they ask: from where,
// with which headers, TLS checks and timeout.
type request struct {
	from           string
	insecure       bool
	attemptTimeout time.Duration
	headers        []step.Template
}

const requestProps = `
    "from": {"enum": ["control", "node"], "default": "control", "description": "control: request from the machine running zdu; node: from the node itself, through its transport (SSH direct-tcpip)."},
    "headers": {"type": "array", "items": {"type": "string"}, "description": "Request headers, each \"Name: value\" (interpolated), e.g. \"Authorization: Bearer ${{ params.token }}\"."},
    "insecure": {"type": "boolean", "default": false, "description": "Accept any TLS certificate."},
    "attemptTimeout": {` + durationSchema + `, "default": "5s", "description": "Longest wait for one request."}`

func readRequest(a step.Args) request {
	r := request{
		from: a.Enum("from", "control", "node"), insecure: a.Bool("insecure", false),
		attemptTimeout: a.Duration("attemptTimeout", 5*time.Second), headers: a.Texts("headers"),
	}
	if r.attemptTimeout <= 0 {
		a.Errorf("attemptTimeout", "must be more than 0")
	}
	for _, h := range r.headers {
		if src := h.Source(); !strings.Contains(src, "${{") {
			if _, _, err := parseHeader(src); err != nil {
				a.Errorf("headers", "%q: %v", src, err)
			}
		}
	}
	return r
}

// client renders the headers for one node and opens a client from the
// right place.
func (r request) client(rc step.Context) (*client, error) {
	h := http.Header{}
	for i, t := range r.headers {
		line, err := t.Render(rc.Env())
		if err != nil {
			return nil, fmt.Errorf("headers[%d]: %w", i, err)
		}
		k, v, err := parseHeader(line)
		if err != nil {
			// The line may hold a secret: name it by position only.
			return nil, fmt.Errorf("headers[%d]: %w", i, err)
		}
		h.Add(k, v)
	}
	dial := rc.Control().Dial
	if r.from == "node" {
		dial = rc.Transport().Dial
	}
	return newClient(dial, r.insecure, r.attemptTimeout, h), nil
}

func (r request) where(rc step.Context) string {
	if r.from == "node" {
		return rc.Node().Name
	}
	return "the control node"
}
