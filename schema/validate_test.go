package schema

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type want struct {
	line, col int
	path      string
	frag      string
}

// validators compiles the plan schema (with the fake step types) and the
// inventory schema once per test.
func validators(t testing.TB) (plan, inv *Validator) {
	t.Helper()
	ps, err := PlanSchema(fakeSteps)
	if err != nil {
		t.Fatalf("PlanSchema: %v", err)
	}
	if plan, err = Compile("plan.json", ps); err != nil {
		t.Fatalf("Compile plan: %v", err)
	}
	if inv, err = Compile("inventory.json", inventorySchema(t)); err != nil {
		t.Fatalf("Compile inventory: %v", err)
	}
	return plan, inv
}

// check decodes and validates a file the way `zdu validate` does.
func check(t testing.TB, path string, plan, inv *Validator) []Problem {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(path)
	doc, problems := Decode(name, data)
	if doc == nil {
		return problems
	}
	v := plan
	if strings.Contains(name, "inventory") {
		v = inv
	}
	return append(problems, v.Validate(name, doc)...)
}

func TestBrokenDocuments(t *testing.T) {
	plan, inv := validators(t)
	cases := []struct {
		file string
		want []want
	}{
		{"syntax-indent.plan.yaml", []want{{6, 4, "", "YAML syntax error: did not find expected '-' indicator (check this line's indentation)"}}},
		{"syntax-tab.plan.yaml", []want{{4, 1, "", "indent with spaces"}}},
		{"syntax-flow.plan.yaml", []want{{3, 10, "", "did not find expected ',' or '}' (this { is never closed)"}}},
		{"syntax-quote.plan.yaml", []want{{2, 7, "", "this quoted string is never closed"}}},
		{"syntax-anchor.plan.yaml", []want{{9, 18, "", `unknown anchor "missing"`}}},
		{"empty.plan.yaml", []want{{1, 1, "", "the document is empty"}}},
		{"two-docs.plan.yaml", []want{{3, 1, "", "a second YAML document starts here"}}},
		{"unknown-key.plan.yaml", []want{
			{6, 5, "phases[0].stratgy", `unknown key "stratgy" (did you mean "strategy"?)`},
			// No "missing required key command" beside it: the typo explains it.
			{11, 11, "phases[0].steps[0].with.comand", `unknown key "comand" (did you mean "command"?)`},
		}},
		{"wrong-type.plan.yaml", []want{
			{6, 15, "phases[0].exitCode", `expected an integer, got a string ("seventy")`},
			{10, 26, "phases[0].steps[0].continueOnError", `expected a boolean (true or false), got a string ("maybe")`},
		}},
		{"bad-enum.plan.yaml", []want{
			{4, 15, "params.dir.type", `unknown param type "strng" (did you mean "string"?)`},
			{8, 15, "phases[0].strategy", `unknown strategy "seriel" (did you mean "serial"?)`},
		}},
		{"bad-duration.plan.yaml", []want{
			{9, 18, "phases[0].steps[0].timeout", `must be a duration such as 500ms, 30s, 5m or 1h30m, or a ${{ expression }} giving one (got "30 seconds")`},
			{10, 36, "phases[0].steps[0].retries.delay", `must be a duration such as 500ms, 30s, 5m or 1h30m (got an integer (5))`},
		}},
		{"missing-required.plan.yaml", []want{
			{4, 5, "phases[0]", `missing required key "steps"`},
			{9, 9, "phases[1].steps[0]", `missing required key "id"`},
		}},
		{"duplicate-key.plan.yaml", []want{
			{11, 11, "phases[0].steps[0].with.command", `duplicate key "command" (first set on line 10)`},
		}},
		{"unknown-step-type.plan.yaml", []want{
			{8, 15, "phases[0].steps[0].type", `unknown step type "ssh-exce" (did you mean "ssh-exec"?)`},
			{11, 15, "phases[0].steps[1].type", `unknown step type "frobnicate"; expected one of: rollback-on, sleep, ssh-exec, wait-http`},
		}},
		{"bad-with.plan.yaml", []want{
			{10, 21, "phases[0].steps[0].with.duration", `must be a duration such as 5s (got "5 s")`},
			{14, 11, "phases[0].steps[1].with", `missing required key "command"`},
			{15, 9, "phases[0].steps[2]", `missing required key "with"`},
			{21, 19, "phases[0].steps[3].with.status", "must be at most 599 (got 999)"},
			{22, 19, "phases[0].steps[3].with.probe.htp", `unknown key "htp" (did you mean "http"?)`},
		}},
		{"strategy.plan.yaml", []want{
			{6, 15, "phases[0].strategy", `must be serial, parallel, {batch: N}, {batch: "N%"} or {parallel: N} (got an integer (3))`},
			{10, 16, "phases[1].strategy", "takes exactly one of: batch, parallel"},
			{14, 23, "phases[2].strategy.batch", `percentage such as "50%" (got "150%")`},
			{15, 18, "phases[2].maxFailures", `(got "lots")`},
		}},
		{"misc.plan.yaml", []want{
			{1, 13, "apiVersion", `must be zdu/v1 (got "zdu/v2")`},
			{2, 7, "name", `must be a plan name`},
			{4, 3, "params.old-dir", `invalid key "old-dir": must be a param name`},
			{5, 30, "params.port.default", `expected an integer, got a string ("9160")`},
			{6, 10, "params.mode", `missing required key "values"`},
			{8, 9, "phases[0].id", `must be an identifier`},
			{9, 20, "phases[0].targets[1]", `"all" is already listed (item [0])`},
			{13, 16, "phases[0].steps[0].needs", `expected a list, got a string ("a")`},
			{16, 10, "rollbacks.empty", "must list at least one item"},
		}},
		{"merge-and-alias.plan.yaml", []want{
			{3, 1, "base", `unknown key "base"; allowed keys: apiVersion, description`},
			// The merged key is reported where it is written, under the anchor.
			{5, 3, "phases[0].steps[0].with.dirr", `unknown key "dirr" (did you mean "dir"?)`},
		}},
		{"bad.inventory.yaml", []want{
			{4, 14, "defaults.transport", `unknown transport "shh" (did you mean "ssh"?)`},
			{6, 19, "ssh.connectTimeout", "must be a duration such as 500ms, 30s, 5m or 1h30m (got an integer (10))"},
			{9, 11, "nodes[0].port", "must be at most 65535 (got 70000)"},
			{10, 5, "nodes[0].gropus", `unknown key "gropus" (did you mean "groups"?)`},
			{11, 5, "nodes[1]", `missing required key "name"`},
			{14, 13, "loadBalancers.gateway.driver", `unknown load balancer driver "haproxi" (did you mean "haproxy"?)`},
			{16, 21, "loadBalancers.gateway.instances[0].sockett", `unknown key "sockett" (did you mean "socket"?)`},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			checkWants(t, tc.file, check(t, filepath.Join("testdata", "broken", tc.file), plan, inv), tc.want)
		})
	}
}

func TestValidDocuments(t *testing.T) {
	plan, inv := validators(t)
	for _, f := range []string{"valid-plan.yaml", "valid-inventory.yaml"} {
		if got := check(t, filepath.Join("testdata", f), plan, inv); len(got) != 0 {
			t.Errorf("%s: want no problems, got:\n%s", f, lines(got))
		}
	}
}

func TestValidateOddValues(t *testing.T) {
	plan, _ := validators(t)
	cases := []struct {
		name, yaml string
		want       []want
	}{
		{"root is a list", "- a\n- b\n", []want{{1, 1, "", "expected a mapping, got a list"}}},
		{"explicit string tag", "apiVersion: zdu/v1\nname: !!str 123\nphases: [{id: a, targets: all, steps: [{id: s, type: sleep, with: {duration: 1s}}]}]\n", nil},
		{"quoted number is a string", "apiVersion: zdu/v1\nname: demo\nphases: [{id: a, targets: all, exitCode: \"70\", steps: [{id: s, type: sleep, with: {duration: 1s}}]}]\n",
			[]want{{3, 42, "phases[0].exitCode", `expected an integer, got a string ("70")`}}},
		{"infinity is not an integer", "apiVersion: zdu/v1\nname: demo\nphases: [{id: a, targets: all, exitCode: .inf, steps: [{id: s, type: sleep, with: {duration: 1s}}]}]\n",
			[]want{{3, 42, "phases[0].exitCode", "got a number (.inf)"}}},
		{"null where a list belongs", "apiVersion: zdu/v1\nname: demo\nphases:\n", []want{{3, 8, "phases", "expected a list, got an empty value"}}},
		{"key that is not a name", "apiVersion: zdu/v1\nname: demo\n\"my key\": 1\nphases: [{id: a, targets: all, steps: [{id: s, type: sleep, with: {duration: 1s}}]}]\n",
			[]want{{3, 1, `["my key"]`, `unknown key "my key"`}}},
		{"self-referencing alias", "apiVersion: zdu/v1\nname: demo\nphases: &p [*p]\n",
			[]want{{3, 13, "phases[0][0]", "alias *p refers to a value that contains it"}, {3, 13, "phases[0]", "expected a mapping"}}},
		{"duplicate key after merge is fine", "apiVersion: zdu/v1\nname: demo\nphases:\n  - &ph {id: a, targets: all, steps: [{id: s, type: sleep, with: {duration: 1s}}]}\n  - <<: *ph\n    id: b\n", nil},
		{"list as a key", "apiVersion: zdu/v1\nname: demo\n? [a, b]\n: c\nphases: [{id: a, targets: all, steps: [{id: s, type: sleep, with: {duration: 1s}}]}]\n",
			[]want{{3, 3, "", "a key must be a plain value"}}},
		{"wrong types in a list and a mapping", "apiVersion: zdu/v1\nname: demo\nphases:\n  - id: a\n    targets: 5\n    retries: 1\n    steps:\n      - {id: s, type: sleep, retries: \"3\", with: {duration: 1s}}\n",
			[]want{{5, 14, "phases[0].targets", "must be a group name, all, or a list of them (a leading '!' removes a group's nodes) (got an integer (5))"}, {6, 5, "phases[0].retries", `unknown key "retries"`}, {8, 39, "phases[0].steps[0].retries", `expected an integer or a mapping, got a string ("3")`}}},
		{"merge of a scalar", "apiVersion: zdu/v1\nname: demo\nphases:\n  - <<: 3\n    id: b\n    targets: all\n    steps: [{id: s, type: sleep, with: {duration: 1s}}]\n",
			[]want{{4, 9, "phases[0]", "merge key << takes a mapping"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, got := Decode("p.yaml", []byte(tc.yaml))
			if doc != nil {
				got = append(got, plan.Validate("p.yaml", doc)...)
			}
			checkWants(t, "p.yaml", got, tc.want)
		})
	}
}

func TestAliasBombIsBounded(t *testing.T) {
	plan, _ := validators(t)
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ { // 10^10 values once expanded
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := 0; j < 10; j++ {
			fmt.Fprintf(&b, "*a%d, ", i-1)
		}
		b.WriteString("]\n")
	}
	doc, problems := Decode("bomb.yaml", []byte(b.String()))
	if doc == nil {
		t.Fatal(problems)
	}
	got := plan.Validate("bomb.yaml", doc)
	if len(got) != 1 || !strings.Contains(got[0].Msg, "too large to check") {
		t.Fatalf("want one too-large problem, got %d: %s", len(got), lines(got))
	}
}

// TestValidateConcurrently checks that one Validator serves many goroutines,
// as the loader shares it (run with -race).
func TestValidateConcurrently(t *testing.T) {
	plan, _ := validators(t)
	data, err := os.ReadFile(filepath.Join("testdata", "broken", "bad-with.plan.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := lines(check(t, filepath.Join("testdata", "broken", "bad-with.plan.yaml"), plan, nil))
	done := make(chan string)
	for i := 0; i < 8; i++ {
		go func() {
			doc, _ := Decode("bad-with.plan.yaml", data)
			done <- lines(plan.Validate("bad-with.plan.yaml", doc))
		}()
	}
	for i := 0; i < 8; i++ {
		if got := <-done; got != want {
			t.Errorf("concurrent Validate gave\n%s\nwant\n%s", got, want)
		}
	}
}

func TestProblemString(t *testing.T) {
	p := Problem{File: "plan.yaml", Line: 12, Col: 7, Path: "phases[0].steps[2].with.command", Msg: "expected a string"}
	if got, want := p.String(), "plan.yaml:12:7: phases[0].steps[2].with.command: expected a string"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	p.Path = ""
	if got, want := p.String(), "plan.yaml:12:7: expected a string"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestIndex(t *testing.T) {
	doc, problems := Decode("p.yaml", []byte("a:\n  b: [x, {c: 1}]\n\"d/e\": 2\n"))
	if doc == nil {
		t.Fatal(problems)
	}
	pos := Index(doc)
	cases := []struct {
		ptr       string
		path      string
		line, col int
		keyLine   int
	}{
		{"/a/b/1/c", "a.b[1].c", 2, 14, 2},
		{"/a/b/0", "a.b[0]", 2, 7, 0},
		{"/d~1e", `["d/e"]`, 3, 8, 3},
	}
	for _, tc := range cases {
		key, val, ok := pos.Lookup(tc.ptr)
		if !ok {
			t.Errorf("%s: not indexed", tc.ptr)
			continue
		}
		if val.Line != tc.line || val.Column != tc.col {
			t.Errorf("%s: value at %d:%d, want %d:%d", tc.ptr, val.Line, val.Column, tc.line, tc.col)
		}
		if (key == nil) != (tc.keyLine == 0) || (key != nil && key.Line != tc.keyLine) {
			t.Errorf("%s: key %v, want line %d", tc.ptr, key, tc.keyLine)
		}
		if got := pos.Path(tc.ptr); got != tc.path {
			t.Errorf("%s: path %q, want %q", tc.ptr, got, tc.path)
		}
	}
}

// checkWants compares problems with the wanted ones, in order.
func checkWants(t *testing.T, file string, got []Problem, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("got %d problems, want %d:\n%s", len(got), len(wants), lines(got))
	}
	for i, w := range wants {
		g := got[i]
		if g.File != file || g.Line != w.line || g.Col != w.col || g.Path != w.path || !strings.Contains(g.Msg, w.frag) {
			t.Errorf("problem %d:\n got  %s\n want %s:%d:%d: %s: ...%s...", i, g, file, w.line, w.col, w.path, w.frag)
		}
	}
}

func lines(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}
