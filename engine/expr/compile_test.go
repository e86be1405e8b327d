package expr

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/steps/step"
)

func TestEvalValues(t *testing.T) {
	env := testEnv().With("stat", map[string]any{"size": 42})
	tests := []struct {
		src  string
		want any
	}{
		{"params.port + 1", 8081},
		{"params.dir", "/opt/My Axway"},
		{"params['dir']", "/opt/My Axway"},
		{"params.startup", 30 * time.Second},
		{"params.startup.Seconds() == 30", true},
		{"len(params.files)", 3},
		{"join(params.files, ',')", "a b.txt,it's,$HOME"},
		{"params.files | join(' ')", "a b.txt it's $HOME"},
		{"vars.java_home + '/bin'", "/usr/lib/jvm/bin"},
		{"node.name", "Node-A"},
		{"node.port", 22},
		{"'Gateway' in node.groups", true},
		{"any(node.groups, # startsWith 'Admin')", true},
		{"filter(node.groups, # != 'Gateway')", []any{"AdminNodeManager"}},
		{"map(node.groups, lower(#))", []any{"gateway", "adminnodemanager"}},
		{"count(node.groups, len(#) > 7)", 1},
		{"phase.id == 'export'", true},
		{"trim(results.version.stdout)", "7.7.0"},
		{"results.version.ok && results.version.exitCode == 0", true},
		{"results.version.data.major", 7},
		{"stat.size", 42},
		{"upper(split(node.host, '.')[0])", "10"},
		{"int('12') + abs(-3) + max(1, 2) + min(4, 5)", 21},
		{"first(node.groups) + last(node.groups)", "GatewayAdminNodeManager"},
		{"trimPrefix(params.dir, '/opt/')", "My Axway"},
		{"node.name matches '^Node-[A-C]$'", true},
		{"params.dir contains 'Axway' and params.dir endsWith 'y'", true},
		{"params.enabled ? 'on' : 'off'", "on"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, err := CompileValue(tt.src, testScope())
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if e.Source() != tt.src {
				t.Errorf("Source() = %q", e.Source())
			}
			got, err := e.Eval(env)
			if err != nil {
				t.Fatalf("eval: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	failing := testScope()
	failing.Failure = true
	tests := []struct {
		src       string
		sc        *Scope // nil: testScope()
		cond      bool
		line, col int
		msg       string
	}{
		{src: "nope", line: 1, col: 1, msg: `unknown name "nope" (did you mean "node"?)`},
		{src: "params.dri", line: 1, col: 8, msg: `unknown param "dri" (did you mean "dir"?)`},
		{src: "params.zzzzzz", line: 1, col: 8, msg: `unknown param "zzzzzz"`},
		{src: "vars.anx", line: 1, col: 6, msg: `unknown var "anx" (did you mean "anm"?)`},
		{src: "results.other.stdout", line: 1, col: 9, msg: `unknown result "other": no earlier step registers it`},
		{src: "results.version.stdot", line: 1, col: 17, msg: `has no field "stdot" (did you mean "stdout"?)`},
		{src: "node.hots", line: 1, col: 6, msg: `node has no field "hots" (did you mean "host"?)`},
		{src: "phase.name", line: 1, col: 7, msg: `phase has no field "name"`},
		{src: "failure.exitCode == 1", line: 1, col: 1, msg: `failure is only visible in a rollback-on condition`},
		{src: "failure.exitcode == 1", sc: &failing, line: 1, col: 9, msg: `failure has no field "exitcode" (did you mean "exitCode"?)`},
		{src: "  params.port", cond: true, line: 1, col: 3, msg: "condition must be a boolean, got int"},
		{src: "params.dir", cond: true, line: 1, col: 1, msg: "condition must be a boolean, got string"},
		{src: "params.files", cond: true, line: 1, col: 1, msg: "condition must be a boolean, got list"},
		{src: "node.name ==\n  nde.host", line: 2, col: 3, msg: `unknown name "nde" (did you mean "node"?)`},
		{src: "params.port > 'a'", line: 1, col: 13, msg: "mismatched types int and string"},
		{src: "params.dir +", line: 1, col: 12, msg: "unexpected token EOF"},
		{src: "now()", line: 1, col: 1, msg: `function "now" is not available in plans`},
		{src: "repeat('a', 1000)", line: 1, col: 1, msg: `function "repeat" is not available in plans`},
		{src: "lowr(node.name)", line: 1, col: 1, msg: `unknown function "lowr" (did you mean "lower"?)`},
		{src: "reduce(node.groups, #acc)", line: 1, col: 1, msg: `function "reduce" is not available in plans`},
		{src: "$env", line: 1, col: 1, msg: `unknown name "$env"`},
		{src: "let x = 1; x", line: 1, col: 5, msg: "let is not available in plans"},
		{src: "all(node.groups, all(node.groups, all(node.groups, all(node.groups, true))))", line: 1, col: 1, msg: "nest more than 3 deep"},
		{src: "   ", line: 1, col: 4, msg: "empty expression"},
		{src: "stat.x", sc: &Scope{}, line: 1, col: 1, msg: `unknown name "stat"`},
		{src: strings.Repeat("1+", MaxNodes) + "1", line: 1, msg: "exceeds maximum allowed nodes"},
	}
	for _, tt := range tests {
		t.Run(tt.src[:min(len(tt.src), 40)], func(t *testing.T) {
			sc := testScope()
			if tt.sc != nil {
				sc = *tt.sc
			}
			compile := CompileValue
			if tt.cond {
				compile = CompileCond
			}
			_, err := compile(tt.src, sc)
			var pe *Error
			if !asError(err, &pe) {
				t.Fatalf("got %v (%T), want *Error", err, err)
			}
			if pe.Line != tt.line || (tt.col != 0 && pe.Col != tt.col) {
				t.Errorf("position %d:%d, want %d:%d (%s)", pe.Line, pe.Col, tt.line, tt.col, pe.Msg)
			}
			if !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("message %q does not contain %q", pe.Msg, tt.msg)
			}
		})
	}
}

func TestCondAcceptsBooleans(t *testing.T) {
	env := testEnv()
	tests := []struct {
		src  string
		want bool
	}{
		{"params.enabled", true},
		{"vars.anm", true}, // any-typed: checked at run time
		{"'Gateway' in node.groups && phase.id == 'export'", true},
		{"not params.enabled", false},
		{"node.port != 22", false},
	}
	for _, tt := range tests {
		e, err := CompileCond(tt.src, testScope())
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		got, err := e.Bool(env)
		if err != nil || got != tt.want {
			t.Errorf("%s = %v, %v; want %v", tt.src, got, err, tt.want)
		}
	}
}

func TestRuntimeErrors(t *testing.T) {
	tests := []struct {
		src       string
		cond      bool
		line, col int
		msg       string
	}{
		// vars.java_home is any at load time and a string at run time.
		{src: "vars.java_home", cond: true, line: 1, col: 1, msg: "condition must be a boolean, got string"},
		{src: "1..10000000", line: 1, msg: "more than 100000 list and map elements (its memory budget)"},
		{src: "map(1..1000, map(1..1000, #))", line: 1, msg: "more than 100000 list and map elements (its memory budget)"},
		{src: "int('x')", line: 1, msg: "invalid operation"},
		{src: "node.groups[5]", line: 1, msg: "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			compile := CompileValue
			if tt.cond {
				compile = CompileCond
			}
			e, err := compile(tt.src, testScope())
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			_, err = e.Eval(testEnv())
			var pe *Error
			if !asError(err, &pe) {
				t.Fatalf("got %v (%T), want *Error", err, err)
			}
			if pe.Line != tt.line || (tt.col != 0 && pe.Col != tt.col) {
				t.Errorf("position %d:%d, want %d:%d", pe.Line, pe.Col, tt.line, tt.col)
			}
			if !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("message %q does not contain %q", pe.Msg, tt.msg)
			}
		})
	}
}

func TestEvalRejectsForeignEnv(t *testing.T) {
	e, err := CompileValue("1", Scope{})
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []step.Env{nil, (*Env)(nil), foreignEnv{}} {
		if _, err := e.Eval(env); err == nil {
			t.Errorf("Eval(%T) succeeded, want an error", env)
		}
	}
}

type foreignEnv struct{}

func (foreignEnv) With(string, any) step.Env { return foreignEnv{} }
