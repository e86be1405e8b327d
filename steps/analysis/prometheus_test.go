package analysis_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/enginetest"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/steptest"

	_ "github.com/zdu-dev/zdu/steps/all"
)

// canaryPlan deploys (a marker line), then judges the deploy by a
// Prometheus query. A failing analysis (exit code 1) rolls the node back;
// no verdict (2) or a broken query (3) fails the phase without a rollback.
const canaryPlan = `apiVersion: zdu/v1
name: analysis
params:
  dir: {type: string, required: true}
  prom: {type: string, required: true}
  metric: {type: string, default: zdu_test_error_ratio}
  job: {type: string, default: exporter}
  max_ratio: {type: string, default: "0.01"}
  query: {type: string, default: ""}
  window: {type: duration, default: 1m}
phases:
  - id: canary
    title: CANARY
    targets: all
    exitCode: 73
    steps:
      - id: arm
        type: rollback-on
        when: failure.step == "errors" && failure.exitCode == 1
        with: {rollback: revert}
      - id: deploy
        type: ssh-exec
        with: {command: "echo deploy ${{ node.name }} >> ${{ params.dir }}/ran"}
      - id: errors
        type: analysis-prometheus
        register: errors
        timeout: ${{ params.window }}
        with:
          address: ${{ params.prom }}
          query: '${{ params.query != "" ? params.query : params.metric + "{job=\"" + params.job + "\"}" }}'
          pass: "< ${{ params.max_ratio }}"
          consecutive: 2
          maxFailures: 2
          interval: 200ms
      - id: report
        type: ssh-exec
        when: results.errors.ok
        with: {command: "echo ${{ results.errors.data.verdict }} ${{ results.errors.stdout }} ${{ results.errors.data.measurements }} >> ${{ params.dir }}/ran"}
rollbacks:
  revert:
    - id: revert
      type: ssh-exec
      with: {command: "echo revert ${{ node.name }} >> ${{ params.dir }}/ran"}
`

const localInventory = `apiVersion: zdu/v1
kind: Inventory
defaults: {transport: local}
nodes:
  - {name: n1, groups: [web]}
`

// TestPrometheusAnalysisInARun runs the plan against a real Prometheus
// scraping a test exporter whose value the test sets.
func TestPrometheusAnalysisInARun(t *testing.T) {
	exp := startExporter(t, 0.002)
	prom := startPrometheus(t, exp.HostPort())
	tests := []struct {
		name       string
		value      float64 // the exporter's value during the run
		sets       []string
		wantExit   int
		wantStatus string
		wantRan    []string
		stepExit   int    // the analysis step's exit code
		errHas     string // in the run's error
		rollback   string // the summary's ROLLBACK cell
	}{
		{name: "passes", value: 0.002, wantExit: 0, wantStatus: "SUCCESS",
			wantRan: []string{"deploy n1", "passed 0.002 2"}, rollback: "*"},
		{name: "breaks the threshold: fails after its window, rolled back", value: 0.2, wantExit: 73, wantStatus: "CANARY_FAILED",
			wantRan: []string{"deploy n1", "revert n1"}, stepExit: 1, rollback: "PASSED (0)",
			errHas: "at step errors: analysis-prometheus zdu_test_error_ratio{job=\"exporter\"} at " + prom.URL + "/api/v1/query from the control node: failed: 3 measurement(s) broke the threshold < 0.01, more than maxFailures 2; last value: 0.2"},
		{name: "a threshold from a param", value: 0.2, sets: []string{"max_ratio=0.25"}, wantExit: 0, wantStatus: "SUCCESS",
			wantRan: []string{"deploy n1", "passed 0.2 2"}, rollback: "*"},
		{name: "an empty result: no verdict, no rollback", value: 0.002, sets: []string{"job=nosuchjob", "window=2s"}, wantExit: 73, wantStatus: "CANARY_FAILED",
			wantRan: []string{"deploy n1"}, stepExit: 2, rollback: "*",
			errHas: "no verdict: timed out after"},
		{name: "a bad query: fails at once, naming the step", value: 0.002, sets: []string{"query=sum(rate(zdu_test_error_ratio[1m])"}, wantExit: 73, wantStatus: "CANARY_FAILED",
			wantRan: []string{"deploy n1"}, stepExit: 3, rollback: "*",
			errHas: "phase canary failed on n1 at step errors: analysis-prometheus sum(rate(zdu_test_error_ratio[1m]) at " + prom.URL + "/api/v1/query from the control node: the query was rejected by Prometheus (bad_data): "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exp.Set(tc.value)
			prom.waitValue(t, "zdu_test_error_ratio", tc.value)
			dir := t.TempDir()
			sets := append([]string{"dir=" + dir, "prom=" + prom.URL}, tc.sets...)
			r := enginetest.Execute(t, enginetest.Compile(t, canaryPlan, localInventory, sets...), enginetest.Options{})
			if r.Result.ExitCode != tc.wantExit || r.Result.Status != tc.wantStatus {
				t.Fatalf("got %s (%d), want %s (%d): %v\n%s", r.Result.Status, r.Result.ExitCode, tc.wantStatus, tc.wantExit, r.Result.Err, r.Logs["n1"])
			}
			if tc.errHas != "" && !strings.Contains(r.Result.Err.Error(), tc.errHas) {
				t.Errorf("run error:\n %v\nwant it to contain\n %s", r.Result.Err, tc.errHas)
			}
			if got := enginetest.Lines(t, filepath.Join(dir, "ran")); !slices.Equal(got, tc.wantRan) {
				t.Errorf("ran %q, want %q\n%s", got, tc.wantRan, r.Logs["n1"])
			}
			if got := r.Summary.Nodes[0].Rollback.String(); got != tc.rollback {
				t.Errorf("ROLLBACK %s, want %s\n%s", got, tc.rollback, r.Table)
			}
			end := stepEnd(t, r.Events, "errors")
			if end.ExitCode == nil || *end.ExitCode != tc.stepExit {
				t.Errorf("the analysis step ended %s with exit code %v, want %d", end.State, end.ExitCode, tc.stepExit)
			}
			res, _ := end.Detail["result"].(map[string]any)
			data, _ := res["data"].(map[string]any)
			if data["address"] != prom.URL || data["query"] == nil || data["verdict"] == nil || data["threshold"] == nil {
				t.Errorf("the journal lacks the registered figures: %v", end.Detail)
			}
			if tc.stepExit == 1 && data["measurements"] != 3.0 {
				t.Errorf("failed after %v measurements, want 3 (maxFailures 2)", data["measurements"])
			}
			if !strings.Contains(r.Logs["n1"], "analysis-prometheus ") || !strings.Contains(r.Logs["n1"], "measurement 1:") {
				t.Errorf("the node log lacks the measurements:\n%s", r.Logs["n1"])
			}
			rolled := false
			for _, e := range r.Events {
				rolled = rolled || e.Kind == journal.KindRollback && e.Rollback == "revert"
			}
			if rolled != (tc.stepExit == 1) {
				t.Errorf("rollback in the journal: %v, want %v", rolled, tc.stepExit == 1)
			}
		})
	}
}

// stepEnd is the last event of a forward step.
func stepEnd(t *testing.T, events []journal.Event, id string) journal.Event {
	t.Helper()
	var end *journal.Event
	for i, e := range events {
		if e.Kind == journal.KindStep && e.Step == id && (e.State == journal.Passed || e.State == journal.Failed) {
			end = &events[i]
		}
	}
	if end == nil {
		t.Fatalf("no end of step %s in the journal", id)
	}
	return *end
}

// TestPrometheusResultShapes: what each kind of Prometheus result gives,
// straight through the step type against the same real Prometheus.
func TestPrometheusResultShapes(t *testing.T) {
	exp := startExporter(t, 0.5)
	prom := startPrometheus(t, exp.HostPort())
	prom.waitValue(t, "zdu_test_error_ratio", 0.5)
	tests := []struct {
		name   string
		with   map[string]any
		stop   bool // end the window after two measurements
		exit   int
		value  any
		errHas string
		logHas string
	}{
		{name: "a vector of one series", with: map[string]any{"query": "zdu_test_error_ratio", "pass": "== 0.5"}, value: 0.5,
			logHas: `0.5 == 0.5: pass (1 of 1 in a row) [{__name__="zdu_test_error_ratio", instance=`},
		{name: "a scalar, a request timeout with a fraction", with: map[string]any{"query": "scalar(zdu_test_error_ratio) * 2", "pass": ">= 1", "attemptTimeout": "1500ms"}, value: 1.0},
		{name: "an aggregate of two series", with: map[string]any{"query": `sum(zdu_test_requests_total{code=~"5.."}) / sum(zdu_test_requests_total)`, "pass": "<= 0.03"}, value: 0.03},
		{name: "NaN has no value", with: map[string]any{"query": "scalar(zdu_test_error_ratio) * 0 / 0", "pass": "< 1"}, stop: true, exit: 2,
			errHas: "last seen: no value: NaN"},
		{name: "emptyValue stands in for NaN", with: map[string]any{"query": "scalar(zdu_test_error_ratio) * 0 / 0", "pass": "< 1", "emptyValue": 0}, value: 0.0},
		{name: "+Inf fails", with: map[string]any{"query": "scalar(zdu_test_error_ratio) / 0", "pass": "< 1"}, exit: 1,
			errHas: "last value: +Inf"},
		{name: "an empty result", with: map[string]any{"query": "zdu_test_no_such_metric", "pass": "< 1"}, stop: true, exit: 2,
			errHas: "last seen: no value: empty result (no series"},
		{name: "emptyValue stands in for an empty result", with: map[string]any{"query": "zdu_test_no_such_metric", "pass": "< 1", "emptyValue": 0}, value: 0.0,
			logHas: "taken as emptyValue"},
		{name: "two series", with: map[string]any{"query": "zdu_test_requests_total", "pass": "< 1"}, exit: 3,
			errHas: "the query gives 2 series ("},
		{name: "a range vector", with: map[string]any{"query": "zdu_test_error_ratio[1m]", "pass": "< 1"}, exit: 3,
			errHas: "the query gives a matrix, not one number"},
		{name: "a string", with: map[string]any{"query": `"text"`, "pass": "< 1"}, exit: 3,
			errHas: "the query gives a string"},
		{name: "a syntax error", with: map[string]any{"query": "zdu_test_error_ratio{", "pass": "< 1"}, exit: 3,
			errHas: "the query was rejected by Prometheus (bad_data): invalid parameter \"query\": 1:22: parse error"},
		{name: "no Prometheus there", with: map[string]any{"address": fmt.Sprintf("http://127.0.0.1:%d", freePort(t)), "query": "up", "pass": "== 1"}, stop: true, exit: 2,
			errHas: "connection refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			with := map[string]any{"address": prom.URL, "interval": "100ms", "timeout": "2m"}
			for k, v := range tc.with {
				with[k] = v
			}
			act, err := steptest.Build("analysis-prometheus", with)
			if err != nil {
				t.Fatal(err)
			}
			rc := &steptest.Context{NodeInfo: step.Node{Name: "n1", Host: "127.0.0.1"}}
			var out step.Outcome
			if tc.stop {
				out, err = steptest.RunUntil(act, rc, func() bool { return strings.Contains(rc.Logged(), "measurement 2:") }, 2*time.Minute)
			} else {
				out, err = steptest.Run(act, rc, 2*time.Minute)
			}
			if out.ExitCode != tc.exit || (err == nil) != (tc.exit == 0) {
				t.Fatalf("exit %d, err %v; want exit %d\n%s", out.ExitCode, err, tc.exit, rc.Logged())
			}
			if tc.errHas != "" && !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("err = %v, want it to contain %q", err, tc.errHas)
			}
			if tc.logHas != "" && !strings.Contains(rc.Logged(), tc.logHas) {
				t.Errorf("log lacks %q:\n%s", tc.logHas, rc.Logged())
			}
			if tc.value != nil && out.Data["value"] != tc.value {
				t.Errorf("data.value = %v, want %v", out.Data["value"], tc.value)
			}
		})
	}
}
