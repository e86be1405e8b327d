package summary_test

import (
	"encoding/json"
	"flag"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/enginetest"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/probe"
	"github.com/zdu-dev/zdu/engine/summary"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

func ptr[T any](v T) *T { return &v }

// probeDetail is a probe event's detail as the runner writes it: the
// result marshalled to JSON and read back as a map.
func probeDetail(t *testing.T, r probe.Result) map[string]any {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// events is the nova-api plan's run (two API nodes, then the controller)
// that ended with status and code, with the probe's finding (if any)
// journaled just before the end.
func events(t *testing.T, p *probe.Result, status string, code int) []journal.Event {
	t.Helper()
	ev := []journal.Event{
		{Kind: journal.KindRun, State: journal.Started, Run: "r1", Detail: map[string]any{
			"plan": "nova-api",
			"phases": []any{
				map[string]any{"id": "upgrade_api", "title": "UPGRADE-API"},
				map[string]any{"id": "post_maintenance", "title": "POST-MAINTENANCE"},
			},
			"nodes": []any{"node-1", "node-2", "controller"},
		}},
		{Kind: journal.KindNode, State: journal.Passed, Phase: "upgrade_api", Node: "node-1", ExitCode: journal.Code(0)},
		{Kind: journal.KindNode, State: journal.Passed, Phase: "upgrade_api", Node: "node-2", ExitCode: journal.Code(0)},
		{Kind: journal.KindNode, State: journal.Passed, Phase: "post_maintenance", Node: "controller", ExitCode: journal.Code(0)},
	}
	if p != nil {
		e := journal.Event{Kind: journal.KindProbe, State: journal.Passed, Detail: probeDetail(t, *p)}
		if p.Breach != "" {
			e.State, e.ExitCode, e.Error = journal.Failed, journal.Code(81), "availability error budget exceeded: "+p.Breach
		}
		ev = append(ev, e)
	}
	end := journal.Event{Kind: journal.KindRun, State: journal.Passed, Run: "r1", ExitCode: journal.Code(code),
		Detail: map[string]any{"status": status}}
	if code != 0 {
		end.State, end.Error = journal.Failed, "availability error budget exceeded: "+p.Breach
	}
	ev = append(ev, end)
	for i := range ev {
		ev[i].Seq = i + 1
	}
	return ev
}

// Probe results, one per thing the table shows.
var (
	metBudget = probe.Result{
		URL: "http://127.0.0.1:8080/", RateRPS: 50, DurationMS: 120500,
		Requests: 6012, P50MS: 1.24, P99MS: 4.8, MaxMS: 9.1,
		Budget: &probe.Budget{MaxFailed: ptr(int64(0))},
	}
	exceeded = probe.Result{
		URL: "http://127.0.0.1:8080/", RateRPS: 50, DurationMS: 98000,
		Requests: 4900, Failed: 12, LongestFailureMS: 740, P50MS: 0.85, P99MS: 250, MaxMS: 1200,
		Failures: map[string]int64{"503": 9, "connection refused": 3},
		Budget:   &probe.Budget{MaxFailed: ptr(int64(0)), MaxFailureWindow: ptr(500 * time.Millisecond)},
		Breach:   "12 failed requests, budget 0; longest failure window 740 ms, budget 500ms",
	}
	lbCounters = probe.Result{
		URL: "http://lb.example/health", RateRPS: 10, DurationMS: 30000,
		Requests: 300, P50MS: 0.08, P99MS: 0.5, MaxMS: 0.9,
		LB: []probe.LBCounters{
			{LB: "gateway", Driver: "haproxy", Backend: "apigateway", Counters: map[string]int64{"retries": 2, "errors": 0, "redispatches": 1}},
			{LB: "edge", Driver: "nginx", Backend: "api", Error: "after the run: dial unix /run/nginx.sock: connection refused"},
		},
	}
	failuresNoBudget = probe.Result{
		URL: "http://127.0.0.1:8080/", RateRPS: 20, DurationMS: 60000,
		Requests: 1200, Failed: 6, LongestFailureMS: 300, P50MS: 2, P99MS: 15, MaxMS: 40,
		Failures: map[string]int64{"timeout": 1, "cut body": 2, "503": 3},
	}
)

func TestFromEventsProbe(t *testing.T) {
	tests := []struct {
		name   string
		probe  *probe.Result
		status string
		code   int
	}{
		{name: "no probe", status: "SUCCESS"},
		{name: "met budget", probe: &metBudget, status: "SUCCESS"},
		{name: "budget exceeded", probe: &exceeded, status: "ERROR_BUDGET_EXCEEDED", code: 81},
		{name: "load balancer counters", probe: &lbCounters, status: "SUCCESS"},
		{name: "failures without a budget", probe: &failuresNoBudget, status: "SUCCESS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := summary.FromEvents(events(t, tt.probe, tt.status, tt.code))
			if s.Status != tt.status || s.ExitCode != tt.code || s.Plan != "nova-api" || len(s.Nodes) != 3 {
				t.Errorf("summary %s (%d) of plan %q with %d nodes, want %s (%d) of nova-api with 3",
					s.Status, s.ExitCode, s.Plan, len(s.Nodes), tt.status, tt.code)
			}
			if tt.probe == nil {
				if s.Probe != nil {
					t.Errorf("probe %+v without a probe event", s.Probe)
				}
				return
			}
			if s.Probe == nil {
				t.Fatal("no probe figures from the probe event")
			}
			if !reflect.DeepEqual(*s.Probe, *tt.probe) {
				got, _ := json.Marshal(s.Probe)
				want, _ := json.Marshal(tt.probe)
				t.Errorf("probe figures did not survive the journal:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestFromEventsProbeWindowInMS: a journal whose budget holds the window
// as a number of milliseconds still reads.
func TestFromEventsProbeWindowInMS(t *testing.T) {
	d := probeDetail(t, exceeded)
	d["budget"].(map[string]any)["max_failure_window"] = float64(500)
	ev := events(t, &exceeded, "ERROR_BUDGET_EXCEEDED", 81)
	for i := range ev {
		if ev[i].Kind == journal.KindProbe {
			ev[i].Detail = d
		}
	}
	s := summary.FromEvents(ev)
	if s.Probe == nil || s.Probe.Budget == nil || s.Probe.Budget.MaxFailureWindow == nil {
		t.Fatalf("probe %+v: want a budget with a failure window", s.Probe)
	}
	if got := *s.Probe.Budget.MaxFailureWindow; got != 500*time.Millisecond {
		t.Errorf("failure window %s, want 500ms", got)
	}
}

// TestTableProbe renders the probe section under the table for each kind
// of finding, all in one golden file.
func TestTableProbe(t *testing.T) {
	tests := []struct {
		name   string
		probe  *probe.Result
		status string
		code   int
		want   []string // lines the section must hold, whatever the golden file says
	}{
		{name: "met budget", probe: &metBudget, status: "SUCCESS",
			want: []string{"Availability probe (http://127.0.0.1:8080/, 50 requests/s):", "error budget met"}},
		{name: "budget exceeded", probe: &exceeded, status: "ERROR_BUDGET_EXCEEDED", code: 81,
			want: []string{"error budget EXCEEDED: 12 failed requests, budget 0; longest failure window 740 ms, budget 500ms",
				"requests 4900, failed 12 (0.24%: 503 ×9, connection refused ×3), longest failure window 740 ms, latency p50 0.85 ms, p99 250 ms, max 1200 ms"}},
		{name: "load balancer counters", probe: &lbCounters, status: "SUCCESS",
			want: []string{"haproxy gateway (backend apigateway) during the run: errors 0, redispatches 1, retries 2",
				"nginx edge (backend api): counters not read: after the run: dial unix /run/nginx.sock: connection refused"}},
		{name: "failures without a budget", probe: &failuresNoBudget, status: "SUCCESS",
			want: []string{"requests 1200, failed 6 (0.50%: 503 ×3, cut body ×2, timeout ×1), longest failure window 300 ms, latency p50 2.0 ms, p99 15.0 ms, max 40.0 ms"}},
	}
	var all strings.Builder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table := summary.FromEvents(events(t, tt.probe, tt.status, tt.code)).Table()
			var lines []string
			for _, l := range strings.Split(table, "\n") {
				lines = append(lines, strings.TrimSpace(l))
			}
			for _, w := range tt.want {
				if !slices.Contains(lines, w) {
					t.Errorf("table lacks the line %q:\n%s", w, table)
				}
			}
			if shown, want := strings.Contains(table, "error budget"), tt.probe.Budget != nil; shown != want {
				t.Errorf("budget line shown %t, want %t (only with a budget):\n%s", shown, want, table)
			}
			all.WriteString("=== " + tt.name + "\n" + table + "\n")
		})
	}
	golden(t, "probe.golden", all.String())
}

// TestSummaryJSONProbe checks summary.json's shape: the probe's figures
// under "probe", with the names scripts read.
func TestSummaryJSONProbe(t *testing.T) {
	b, err := json.Marshal(summary.FromEvents(events(t, &exceeded, "ERROR_BUDGET_EXCEEDED", 81)))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	p, ok := doc["probe"].(map[string]any)
	if !ok {
		t.Fatalf("summary.json has no probe object: %s", b)
	}
	for key, want := range map[string]any{
		"requests": float64(4900), "failed": float64(12), "longest_failure_ms": float64(740),
		"p50_ms": 0.85, "p99_ms": float64(250), "breach": exceeded.Breach,
	} {
		if got, ok := p[key]; !ok || got != want {
			t.Errorf("probe.%s = %v (present %t), want %v", key, got, ok, want)
		}
	}
	budget, _ := p["budget"].(map[string]any)
	if budget["max_failed"] != float64(0) || budget["max_failure_window"] != "500ms" {
		t.Errorf("probe.budget = %v, want max_failed 0 and max_failure_window \"500ms\"", p["budget"])
	}

	b, err = json.Marshal(summary.FromEvents(events(t, nil, "SUCCESS", 0)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"probe"`) {
		t.Errorf("summary.json of a run without a probe has a probe key: %s", b)
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	enginetest.Golden(t, filepath.Join("testdata", name), got, *update)
}

// TestTableTitleFits: with few, short columns the title row still fits
// between the borders.
func TestTableTitleFits(t *testing.T) {
	s := &summary.Summary{Status: "SUCCESS", Phases: []summary.Phase{{ID: "apply", Title: "APPLY"}},
		Nodes: []*summary.Node{{Name: "a", Phases: map[string]summary.Cell{}}}}
	lines := strings.Split(s.Table(), "\n")
	rule, title := lines[1], lines[2]
	if len(title) != len(rule) || !strings.HasSuffix(title, "|") {
		t.Errorf("title row %q (%d) does not match the border %q (%d)", title, len(title), rule, len(rule))
	}
}

// TestTimes: the run, each node's passage through a phase and each step
// carry their start, end and duration; a retried step is one step with its
// attempts; a step still running has no end.
func TestTimes(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ev := []journal.Event{
		{Kind: journal.KindRun, State: journal.Started, Time: at(0), Detail: map[string]any{"nodes": []any{"a"}}},
		{Kind: journal.KindNode, State: journal.Started, Time: at(10), Phase: "p", Node: "a"},
		{Kind: journal.KindStep, State: journal.Started, Time: at(20), Phase: "p", Node: "a", Step: "s", Attempt: 1},
		{Kind: journal.KindStep, State: journal.Retrying, Time: at(120), Phase: "p", Node: "a", Step: "s", Attempt: 1},
		{Kind: journal.KindStep, State: journal.Started, Time: at(220), Phase: "p", Node: "a", Step: "s", Attempt: 2},
		{Kind: journal.KindStep, State: journal.Passed, Time: at(520), Phase: "p", Node: "a", Step: "s", Attempt: 2, ExitCode: journal.Code(0)},
		{Kind: journal.KindStep, State: journal.Started, Time: at(530), Phase: "p", Node: "a", Step: "t", Attempt: 1},
		{Kind: journal.KindNode, State: journal.Failed, Time: at(1010), Phase: "p", Node: "a", ExitCode: journal.Code(1)},
		{Kind: journal.KindRun, State: journal.Failed, Time: at(2000), ExitCode: journal.Code(1), Detail: map[string]any{"status": "P_FAILED"}},
	}
	s := summary.FromEvents(ev)
	if s.Start == nil || !s.Start.Equal(at(0)) || s.DurationMs == nil || *s.DurationMs != 2000 {
		t.Errorf("run times %+v", s.Times)
	}
	c := s.Nodes[0].Phases["p"]
	if c.Start == nil || !c.Start.Equal(at(10)) || c.DurationMs == nil || *c.DurationMs != 1000 {
		t.Errorf("node a in phase p: %+v", c.Times)
	}
	steps := s.Nodes[0].Steps
	if len(steps) != 2 {
		t.Fatalf("steps %+v", steps)
	}
	if st := steps[0]; st.Step != "s" || st.Attempts != 2 || st.State != journal.Passed || st.DurationMs == nil || *st.DurationMs != 500 {
		t.Errorf("step s: %+v, duration %v", st, st.DurationMs)
	}
	if st := steps[1]; st.Step != "t" || st.State != journal.Started || st.End != nil {
		t.Errorf("step t (still running when the journal ends): %+v", st)
	}
}
