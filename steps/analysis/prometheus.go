package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/zdu-dev/zdu/steps/step"
)

const promSchema = `{
  "type": "object",
  "additionalProperties": false,
  "required": ["address", "query", "pass"],
  "properties": {
    "address": {"type": "string", "description": "Prometheus' base URL, e.g. http://prometheus:9090 (with a path prefix if it is served under one); /api/v1/query is added."},
    "query": {"type": "string", "description": "PromQL instant query; it must give one number (a scalar, or a vector of one series: aggregate with sum, max, avg ...). Interpolated values are inserted as they are (put them inside a PromQL string: instance=\"${{ node.host }}:9100\"); the whole query is URL-encoded."},` + judgeProps + requestProps + `
  }
}`

func init() {
	step.Register(step.Definition{
		Idempotent: true,
		Type:       "analysis-prometheus", Summary: "run a Prometheus instant query and compare its value with a threshold, over a window",
		Schema: []byte(promSchema), Build: buildProm,
	})
}

type promAnalysis struct {
	address, query step.Template
	request
	judge
}

var _ step.Action = (*promAnalysis)(nil)

func buildProm(a step.Args) step.Action {
	p := &promAnalysis{address: a.Text("address", true), query: a.Text("query", true), request: readRequest(a), judge: readJudge(a)}
	if s := p.address.Source(); !p.address.IsZero() && !strings.Contains(s, "${{") {
		if _, err := promEndpoint(s); err != nil {
			a.Errorf("address", "%v", err)
		}
	}
	if s := p.query.Source(); !p.query.IsZero() && strings.TrimSpace(s) == "" {
		a.Errorf("query", "is empty")
	}
	return p
}

// promEndpoint is the instant-query endpoint under a Prometheus address.
func promEndpoint(address string) (*url.URL, error) {
	u, err := checkURL(address)
	if err != nil {
		return nil, err
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q has a query or fragment; give the base URL only", u.Redacted())
	}
	return u.JoinPath(queryPath), nil
}

// queryPath is the instant-query endpoint, under Prometheus' address.
const queryPath = "/api/v1/query"

// target renders the endpoint, the query and the threshold for one node.
func (p *promAnalysis) target(rc step.Context) (*url.URL, string, Threshold, error) {
	env := rc.Env()
	addr, err := p.address.Render(env)
	if err != nil {
		return nil, "", Threshold{}, fmt.Errorf("address: %w", err)
	}
	u, err := promEndpoint(addr)
	if err != nil {
		return nil, "", Threshold{}, fmt.Errorf("address: %w", err)
	}
	q, err := p.query.Render(env)
	if err != nil {
		return nil, "", Threshold{}, fmt.Errorf("query: %w", err)
	}
	if strings.TrimSpace(q) == "" {
		return nil, "", Threshold{}, fmt.Errorf("query: is empty for this node")
	}
	th, err := p.thresholdFor(rc)
	return u, q, th, err
}

func (p *promAnalysis) Run(ctx context.Context, rc step.Context) (step.Outcome, error) {
	u, q, th, err := p.target(rc)
	if err != nil {
		return failBefore(err)
	}
	c, err := p.client(rc)
	if err != nil {
		return failBefore(err)
	}
	what := fmt.Sprintf("analysis-prometheus %s at %s from %s", oneLine(q), u.Redacted(), p.where(rc))
	data := map[string]any{"query": q, "address": strings.TrimSuffix(u.Redacted(), queryPath)}
	// Prometheus ends an evaluation that would outlast the request. In
	// seconds: its duration syntax has no fractions (1.5s).
	secs := strconv.FormatFloat(p.attemptTimeout.Seconds(), 'f', -1, 64)
	u.RawQuery = url.Values{"query": {q}, "timeout": {secs}}.Encode()
	return p.run(ctx, rc, what, th, data, func(ctx context.Context) (Sample, error) {
		s, labels, err := p.measure(ctx, c, u.String(), rc)
		if labels != nil {
			data["labels"] = labels
		}
		return s, err
	})
}

// promAnswer is the envelope of every Prometheus API answer.
type promAnswer struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
}

type promData struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

type promSeries struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// measure runs the query once. A query Prometheus rejects (bad_data), or
// one whose result is not one number, is an error: asking again cannot
// help. Anything else without a value (no answer, an empty result, an
// evaluation timeout) is measured again.
func (p *promAnalysis) measure(ctx context.Context, c *client, u string, rc step.Context) (Sample, map[string]any, error) {
	status, body, err := c.get(ctx, u)
	if err != nil {
		return Sample{NoValue: err}, nil, nil
	}
	var ans promAnswer
	if err := json.Unmarshal(body, &ans); err != nil || ans.Status == "" {
		return Sample{NoValue: fmt.Errorf("status %d, not a Prometheus API answer: %s", status, excerpt(body))}, nil, nil
	}
	for _, w := range ans.Warnings {
		fmt.Fprintf(rc.Log(), "Prometheus warns: %s\n", w)
	}
	if ans.Status != "success" {
		if ans.ErrorType == "bad_data" {
			return Sample{}, nil, fmt.Errorf("the query was rejected by Prometheus (%s): %s", ans.ErrorType, ans.Error)
		}
		return Sample{NoValue: fmt.Errorf("error from Prometheus (%s, status %d): %s", ans.ErrorType, status, ans.Error)}, nil, nil
	}
	var d promData
	if err := json.Unmarshal(ans.Data, &d); err != nil {
		return Sample{NoValue: fmt.Errorf("unexpected answer: %v: %s", err, excerpt(body))}, nil, nil
	}
	switch d.ResultType {
	case "scalar":
		var pt [2]any
		if err := json.Unmarshal(d.Result, &pt); err != nil {
			return Sample{NoValue: fmt.Errorf("unexpected scalar: %v", err)}, nil, nil
		}
		return sampleOf(pt, ""), nil, nil
	case "vector":
		var vec []promSeries
		if err := json.Unmarshal(d.Result, &vec); err != nil {
			return Sample{NoValue: fmt.Errorf("unexpected vector: %v", err)}, nil, nil
		}
		switch len(vec) {
		case 0:
			return Sample{NoValue: fmt.Errorf("empty result (no series: a metric not scraped yet, or labels that match nothing): %w", ErrNoValue)}, nil, nil
		case 1:
			labels := map[string]any{}
			for k, v := range vec[0].Metric {
				labels[k] = v
			}
			detail := ""
			if len(labels) > 0 {
				detail = seriesText(vec[0].Metric)
			}
			return sampleOf(vec[0].Value, detail), labels, nil
		}
		names := make([]string, 0, 3)
		for _, s := range vec[:min(3, len(vec))] {
			names = append(names, seriesText(s.Metric))
		}
		return Sample{}, nil, fmt.Errorf("the query gives %d series (%s ...), not one number: aggregate it (sum, max, avg ...) or select one series",
			len(vec), strings.Join(names, ", "))
	}
	return Sample{}, nil, fmt.Errorf("the query gives a %s, not one number: use an instant vector of one series or a scalar", d.ResultType)
}

// sampleOf reads a [time, "value"] pair.
func sampleOf(pt [2]any, detail string) Sample {
	s, ok := pt[1].(string)
	if !ok {
		return Sample{NoValue: fmt.Errorf("unexpected sample %v", pt)}
	}
	v, err := ParseNumber(s)
	if err != nil {
		return Sample{NoValue: err, Detail: detail}
	}
	return Sample{Value: v, Detail: detail}
}

// seriesText writes a series as Prometheus does: {a="x", b="y"}.
func seriesText(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func (p *promAnalysis) Explain(rc step.Context) ([]string, error) {
	u, q, th, err := p.target(rc)
	if err != nil {
		return nil, err
	}
	return []string{fmt.Sprintf("query Prometheus %s from %s (each request up to %s): %s; %s",
		u.Redacted(), p.where(rc), p.attemptTimeout, oneLine(q), p.describe(th))}, nil
}

// oneLine writes a query written over several lines on one.
func oneLine(q string) string { return strings.Join(strings.Fields(q), " ") }
