package analysis

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/steptest"
)

// checkSchema compiles a step type's schema as draft 2020-12, and checks it
// closes the `with` block and documents every key (editors show it).
func checkSchema(t *testing.T, typ string) *jsonschema.Schema {
	t.Helper()
	d, ok := step.Lookup(typ)
	if !ok {
		t.Fatalf("%s is not registered", typ)
	}
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	if err := c.AddResource(typ+".json", strings.NewReader(string(d.Schema))); err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
	s, err := c.Compile(typ + ".json")
	if err != nil {
		t.Fatalf("%s: schema does not compile: %v", typ, err)
	}
	var raw struct {
		AdditionalProperties *bool                     `json:"additionalProperties"`
		Properties           map[string]map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(d.Schema, &raw); err != nil {
		t.Fatal(err)
	}
	if raw.AdditionalProperties == nil || *raw.AdditionalProperties {
		t.Errorf("%s: additionalProperties must be false", typ)
	}
	for k, p := range raw.Properties {
		if desc, _ := p["description"].(string); desc == "" {
			t.Errorf("%s: property %q has no description", typ, k)
		}
	}
	if d.Summary == "" || !d.Idempotent {
		t.Errorf("%s: no summary, or not idempotent (it only reads)", typ)
	}
	return s
}

func TestSchemas(t *testing.T) {
	tests := []struct {
		typ, with string
		ok        bool
	}{
		{"analysis-http", `{"url": "http://x/m", "pass": "< 0.01"}`, true},
		{"analysis-http", `{"url": "http://x/m", "path": "$.a[0]", "pass": ">= 5", "consecutive": 3, "maxFailures": 1, "emptyValue": 0, "interval": "5s", "timeout": "2m", "from": "node", "headers": ["X-A: b"], "insecure": true, "attemptTimeout": "1s"}`, true},
		{"analysis-http", `{"url": "http://x/m"}`, false},
		{"analysis-http", `{"url": "http://x/m", "pass": "0.01"}`, false},
		{"analysis-http", `{"url": "http://x/m", "pass": "< 1", "consecutive": 0}`, false},
		{"analysis-http", `{"url": "http://x/m", "pass": "< 1", "emptyValue": "zero"}`, false},
		{"analysis-http", `{"url": "http://x/m", "pass": "< 1", "query": "up"}`, false},
		{"analysis-prometheus", `{"address": "http://p:9090", "query": "up", "pass": "== 1"}`, true},
		{"analysis-prometheus", `{"address": "http://p:9090", "pass": "== 1"}`, false},
		{"analysis-prometheus", `{"address": "http://p:9090", "query": "up", "pass": "== 1", "path": "$"}`, false},
		{"analysis-prometheus", `{"address": "http://p:9090", "query": "up", "pass": "== 1", "maxFailures": -1}`, false},
	}
	schemas := map[string]*jsonschema.Schema{}
	for _, tc := range tests {
		s, ok := schemas[tc.typ]
		if !ok {
			s = checkSchema(t, tc.typ)
			schemas[tc.typ] = s
		}
		var v any
		if err := json.Unmarshal([]byte(tc.with), &v); err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(v); (err == nil) != tc.ok {
			t.Errorf("%s with %s: valid=%v, want %v (%v)", tc.typ, tc.with, err == nil, tc.ok, err)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		typ  string
		with map[string]any
		want string
	}{
		{"analysis-http", map[string]any{"url": "http://x/", "pass": "~ 1"}, "pass: \"~ 1\" must start with one of"},
		{"analysis-http", map[string]any{"url": "http://x/", "pass": "< 1", "path": "$.a[*]"}, "path: path \"$.a[*]\""},
		{"analysis-http", map[string]any{"url": "ftp://x/", "pass": "< 1"}, "url: \"ftp://x/\" is not an http:// or https:// URL"},
		{"analysis-http", map[string]any{"url": "http://x/", "pass": "< 1", "emptyValue": "NaN"}, "emptyValue: \"NaN\" is not a finite number"},
		{"analysis-http", map[string]any{"url": "http://x/", "pass": "< 1", "headers": []string{"no colon"}}, "headers: \"no colon\""},
		{"analysis-http", map[string]any{"url": "http://x/", "pass": "< 1", "consecutive": 7, "interval": "10s", "timeout": "1m"}, "7 passing measurements 10s apart do not fit in the timeout 1m0s: the step could never pass"},
		{"analysis-http", map[string]any{"url": "http://x/", "pass": "< 1", "consecutive": 1 << 40, "interval": "1h", "timeout": "1m"}, "1099511627776 passing measurements 1h0m0s apart do not fit"},
		{"analysis-http", map[string]any{"url": "http://x/", "pass": "< 1", "interval": "0s"}, "interval: must be more than 0"},
		{"analysis-prometheus", map[string]any{"address": "http://p:9090/?x=1", "query": "up", "pass": "== 1"}, "has a query or fragment"},
		{"analysis-prometheus", map[string]any{"address": "p:9090", "query": "up", "pass": "== 1"}, "not an http:// or https:// URL"},
		{"analysis-prometheus", map[string]any{"address": "http://p:9090", "query": " ", "pass": "== 1"}, "query: is empty"},
	}
	for _, tc := range tests {
		_, err := steptest.Build(tc.typ, tc.with)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: %v, want an error containing %q", tc.typ, tc.with, err, tc.want)
		}
	}
}

func nodeAt(host string) *steptest.Context {
	rc := &steptest.Context{}
	rc.NodeInfo = step.Node{Name: "node-a", Host: host}
	return rc
}

// fast shortens the window of a test step.
func fast(with map[string]any) map[string]any {
	out := map[string]any{"interval": "20ms", "timeout": "1m"}
	for k, v := range with {
		out[k] = v
	}
	return out
}

func TestAnalysisHTTP(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		switch r.URL.Path {
		case "/metrics.json":
			if r.Header.Get("Authorization") != "Bearer t0ken" {
				http.Error(w, "who are you", http.StatusUnauthorized)
				return
			}
			fmt.Fprint(w, `{"latency": {"p99": 0.12}, "errors": [{"rate": "0.002"}]}`)
		case "/warming": // a proxy's error page, then no data yet, then a value
			switch n {
			case 1:
				http.Error(w, "<html>502 Bad Gateway</html>", http.StatusBadGateway)
			case 2:
				fmt.Fprint(w, `{"rate": null}`)
			default:
				fmt.Fprint(w, `{"rate": 0.001}`)
			}
		case "/number":
			fmt.Fprint(w, "42\n")
		case "/huge":
			fmt.Fprintf(w, `{"pad": "%s", "v": 1}`, strings.Repeat("x", maxBody))
		}
	}))
	defer srv.Close()
	auth := []string{"Authorization: Bearer t0ken"}
	tests := []struct {
		name    string
		with    map[string]any
		stop    bool // end the window once the step has logged a measurement
		exit    int
		value   any
		errHas  string
		logHas  string
		atLeast int // measurements
	}{
		{name: "value at a path passes", with: map[string]any{"url": srv.URL + "/metrics.json", "path": "$.latency.p99", "pass": "< 0.3", "headers": auth},
			value: 0.12, atLeast: 1, logHas: "measurement 1: 0.12 < 0.3: pass (1 of 1 in a row)"},
		{name: "a string holding a number, three in a row", with: map[string]any{"url": srv.URL + "/metrics.json", "path": "errors[0].rate", "pass": "<= 0.002", "consecutive": 3, "headers": auth},
			value: 0.002, atLeast: 3, logHas: "pass (3 of 3 in a row)"},
		{name: "value breaks the threshold", with: map[string]any{"url": srv.URL + "/metrics.json", "path": "$.latency.p99", "pass": "< 0.1", "headers": auth},
			exit: 1, value: 0.12, errHas: "failed: 1 measurement(s) broke the threshold < 0.1", atLeast: 1},
		{name: "an error page and a null count neither way", with: map[string]any{"url": srv.URL + "/warming", "path": "$.rate", "pass": "< 0.01"},
			value: 0.001, atLeast: 3, logHas: "measurement 2: no value: $.rate is null"},
		{name: "the whole body is the number", with: map[string]any{"url": srv.URL + "/number", "pass": "== 42"}, value: 42.0, atLeast: 1},
		{name: "without the header: no value, no verdict", with: map[string]any{"url": srv.URL + "/metrics.json", "path": "$.latency.p99", "pass": "< 1"}, stop: true,
			exit: 2, errHas: `no verdict: timed out after`, logHas: `no value: status 401: "who are you"`},
		{name: "a path to nothing", with: map[string]any{"url": srv.URL + "/metrics.json", "path": "$.latency.p90", "pass": "< 1", "headers": auth}, stop: true,
			exit: 2, errHas: `last seen: no value: $.latency has no key "p90" (it has "p99")`},
		{name: "emptyValue stands in for a path to nothing", with: map[string]any{"url": srv.URL + "/metrics.json", "path": "$.latency.p90", "pass": "< 1", "headers": auth, "emptyValue": 0},
			value: 0.0, logHas: "taken as emptyValue"},
		{name: "an answer too long", with: map[string]any{"url": srv.URL + "/huge", "path": "$.v", "pass": "< 2"}, stop: true,
			exit: 2, errHas: "answer longer than 1048576 bytes"},
		{name: "no server", with: map[string]any{"url": fmt.Sprintf("http://127.0.0.1:%d/", freePort(t)), "pass": "< 1"}, stop: true,
			exit: 2, errHas: "connection refused"},
		{name: "from the node", with: map[string]any{"url": srv.URL + "/number", "pass": "> 41", "from": "node"}, value: 42.0, atLeast: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls.Store(0)
			act, err := steptest.Build("analysis-http", fast(tc.with))
			if err != nil {
				t.Fatal(err)
			}
			rc := nodeAt("127.0.0.1")
			var out step.Outcome
			if tc.stop {
				out, err = steptest.RunUntil(act, rc, func() bool { return strings.Contains(rc.Logged(), "measurement 2:") }, time.Minute)
			} else {
				out, err = steptest.Run(act, rc, time.Minute)
			}
			if (err != nil) != (tc.exit != 0) || out.ExitCode != tc.exit {
				t.Fatalf("exit %d, err %v; want exit %d\n%s", out.ExitCode, err, tc.exit, rc.Logged())
			}
			if tc.errHas != "" && !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("err = %v, want it to contain %q", err, tc.errHas)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "analysis-http http://127.0.0.1:") {
				t.Errorf("err = %v, want it to name the step type and URL", err)
			}
			if tc.logHas != "" && !strings.Contains(rc.Logged(), tc.logHas) {
				t.Errorf("log lacks %q:\n%s", tc.logHas, rc.Logged())
			}
			if out.Data["value"] != tc.value {
				t.Errorf("data.value = %v, want %v", out.Data["value"], tc.value)
			}
			if n := out.Data["measurements"].(int); n < tc.atLeast {
				t.Errorf("%d measurements, want at least %d", n, tc.atLeast)
			}
			want := map[int]string{0: "passed", 1: "failed", 2: "inconclusive"}[tc.exit]
			if out.Data["verdict"] != want {
				t.Errorf("data.verdict = %v, want %s", out.Data["verdict"], want)
			}
			if tc.value != nil && out.Stdout != FormatValue(tc.value.(float64)) {
				t.Errorf("stdout = %q, want the value", out.Stdout)
			}
		})
	}
}

// TestURLPasswordNotShown: a password in the URL reaches the server but not
// the step's messages, log lines or registered data.
func TestURLPasswordNotShown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "ops" || p != "s3cr3t-pw" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"v": 5}`)
	}))
	defer srv.Close()
	u := strings.Replace(srv.URL, "http://", "http://ops:s3cr3t-pw@", 1)
	for _, pass := range []string{"< 10", "> 10"} {
		act, err := steptest.Build("analysis-http", fast(map[string]any{"url": u + "/m", "path": "v", "pass": pass}))
		if err != nil {
			t.Fatal(err)
		}
		rc := nodeAt("127.0.0.1")
		out, err := steptest.Run(act, rc, time.Minute)
		if (err == nil) != (pass == "< 10") {
			t.Fatalf("pass %s: %v\n%s", pass, err, rc.Logged())
		}
		lines, _ := act.Explain(rc)
		all := fmt.Sprint(err, rc.Logged(), out.Data, out.Stdout, lines)
		if strings.Contains(all, "s3cr3t-pw") {
			t.Errorf("the password shows: %s", all)
		}
		if !strings.Contains(all, "ops:xxxxx@") {
			t.Errorf("the URL does not show, redacted: %s", all)
		}
	}
}

func TestExplain(t *testing.T) {
	tests := []struct {
		typ  string
		with map[string]any
		want string
	}{
		{"analysis-http", map[string]any{"url": "http://10.0.0.11:8080/stats", "path": "$.p99", "pass": "< 0.3"},
			"measure $.p99 in GET http://10.0.0.11:8080/stats from the control node (each request up to 5s); pass when the value is < 0.3; fail at the first value that is not; measure again every 10s for up to 5m0s (or the step's timeout, if sooner)"},
		{"analysis-prometheus", map[string]any{"address": "http://prom:9090/prom", "query": "sum(rate(errors_total[1m]))\n  / sum(rate(requests_total[1m]))", "pass": "< 0.01",
			"consecutive": 3, "maxFailures": 1, "emptyValue": 0, "interval": "20s", "timeout": "3m", "from": "node"},
			"query Prometheus http://prom:9090/prom/api/v1/query from node-a (each request up to 5s): sum(rate(errors_total[1m])) / sum(rate(requests_total[1m])); pass when the value is < 0.01 in 3 measurements in a row, 20s apart; fail when more than 1 values are not; no value counts as 0; measure again every 20s for up to 3m0s (or the step's timeout, if sooner)"},
	}
	for _, tc := range tests {
		act, err := steptest.Build(tc.typ, tc.with)
		if err != nil {
			t.Fatal(err)
		}
		got, err := act.Explain(nodeAt("10.0.0.11"))
		if err != nil || len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s Explain = %q, %v\nwant %q", tc.typ, got, err, tc.want)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestWindowThatFits: the longest run of passes that fits in the timeout is
// accepted; one more is refused.
func TestWindowThatFits(t *testing.T) {
	with := func(n int) map[string]any {
		return map[string]any{"url": "http://x/", "pass": "< 1", "consecutive": n, "interval": "10s", "timeout": "1m"}
	}
	if _, err := steptest.Build("analysis-http", with(6)); err != nil {
		t.Errorf("6 passes 10s apart (50s) in 1m: %v", err)
	}
	if _, err := steptest.Build("analysis-http", with(7)); err == nil {
		t.Error("7 passes 10s apart (60s) in 1m were accepted")
	}
}
