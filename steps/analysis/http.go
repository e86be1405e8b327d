package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/zdu-dev/zdu/steps/step"
)

const httpSchema = `{
  "type": "object",
  "additionalProperties": false,
  "required": ["url", "pass"],
  "properties": {
    "url": {"type": "string", "description": "http:// or https:// URL of a JSON document, e.g. http://${{ raw node.host }}:8080/metrics.json (interpolated; values are inserted as they are)."},
    "path": {"type": "string", "default": "$", "description": "Where the number is in the document: a JSON path of names and indexes, e.g. $.latency.p99 or $.checks[0]['error rate']. The value is a JSON number or a string holding one. Default $: the whole body is the number."},` + judgeProps + requestProps + `
  }
}`

func init() {
	step.Register(step.Definition{
		Idempotent: true,
		Type:       "analysis-http", Summary: "measure a number in a JSON document at a URL and compare it with a threshold, over a window",
		Schema: []byte(httpSchema), Build: buildHTTP,
	})
}

type httpAnalysis struct {
	url  step.Template
	path Path
	request
	judge
}

var _ step.Action = (*httpAnalysis)(nil)

func buildHTTP(a step.Args) step.Action {
	h := &httpAnalysis{url: a.Text("url", true), request: readRequest(a), judge: readJudge(a)}
	src := "$"
	if a.Has("path") {
		src = a.Literal("path", false)
	}
	p, err := ParsePath(src)
	if err != nil {
		a.Errorf("path", "%v", err)
	}
	h.path = p
	if s := h.url.Source(); !h.url.IsZero() && !strings.Contains(s, "${{") {
		if _, err := checkURL(s); err != nil {
			a.Errorf("url", "%v", err)
		}
	}
	return h
}

// target renders the URL for one node.
func (h *httpAnalysis) target(rc step.Context) (*url.URL, Threshold, error) {
	s, err := h.url.Render(rc.Env())
	if err != nil {
		return nil, Threshold{}, fmt.Errorf("url: %w", err)
	}
	u, err := checkURL(s)
	if err != nil {
		return nil, Threshold{}, fmt.Errorf("url: %w", err)
	}
	th, err := h.thresholdFor(rc)
	return u, th, err
}

func (h *httpAnalysis) Run(ctx context.Context, rc step.Context) (step.Outcome, error) {
	u, th, err := h.target(rc)
	if err != nil {
		return failBefore(err)
	}
	c, err := h.client(rc)
	if err != nil {
		return failBefore(err)
	}
	what := fmt.Sprintf("analysis-http %s %s from %s", u.Redacted(), h.path, h.where(rc))
	data := map[string]any{"url": u.Redacted(), "path": h.path.String()}
	return h.run(ctx, rc, what, th, data, func(ctx context.Context) (Sample, error) {
		return h.measure(ctx, c, u.String())
	})
}

// measure takes one measurement. Every problem is one that may pass (a
// proxy's error page, a document still being filled), so none is fatal.
func (h *httpAnalysis) measure(ctx context.Context, c *client, u string) (Sample, error) {
	status, body, err := c.get(ctx, u)
	if err != nil {
		return Sample{NoValue: err}, nil
	}
	if status < 200 || status > 299 {
		return Sample{NoValue: fmt.Errorf("status %d: %s", status, excerpt(body))}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return Sample{NoValue: fmt.Errorf("status %d, not JSON (%v): %s", status, err, excerpt(body))}, nil
	}
	v, err := h.path.Number(doc)
	if err != nil {
		return Sample{NoValue: err}, nil
	}
	return Sample{Value: v}, nil
}

func (h *httpAnalysis) Explain(rc step.Context) ([]string, error) {
	u, th, err := h.target(rc)
	if err != nil {
		return nil, err
	}
	return []string{fmt.Sprintf("measure %s in GET %s from %s (each request up to %s); %s",
		h.path, u.Redacted(), h.where(rc), h.attemptTimeout, h.describe(th))}, nil
}

// excerpt is the start of a body, on one line, for a message.
func excerpt(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return fmt.Sprintf("%q", s)
}
