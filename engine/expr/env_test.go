package expr

import (
	"errors"
	"reflect"
	"testing"

	"github.com/zdu-dev/zdu/steps/step"
)

func eval(t *testing.T, src string, sc Scope, env step.Env) any {
	t.Helper()
	e, err := CompileValue(src, sc)
	if err != nil {
		t.Fatalf("compile %s: %v", src, err)
	}
	v, err := e.Eval(env)
	if err != nil {
		t.Fatalf("eval %s: %v", src, err)
	}
	return v
}

func TestEnvCopyOnWrite(t *testing.T) {
	sc := Scope{Extra: []string{"stat"}, Results: map[string]bool{"r": true}}
	base := NewEnv(nil, nil, NodeData{Name: "n"}, "p1", nil)
	a := base.With("stat", 1)
	b := a.With("stat", 2)
	if got := eval(t, "stat", sc, a); got != 1 {
		t.Errorf("a: stat = %v, want 1", got)
	}
	if got := eval(t, "stat", sc, b); got != 2 {
		t.Errorf("b: stat = %v, want 2", got)
	}
	if got := eval(t, "stat", sc, base); got != nil {
		t.Errorf("base: stat = %v, want nil", got)
	}
	withR := base.WithResult("r", Result(step.Outcome{ExitCode: 3, Stdout: "out"}, errors.New("boom")))
	if got := eval(t, "[results.r.ok, results.r.exitCode, results.r.stdout, len(results.r.data)]", sc, withR); !reflect.DeepEqual(got, []any{false, 3, "out", 0}) {
		t.Errorf("result = %#v", got)
	}
	if got := eval(t, "len(results)", sc, base); got != 0 {
		t.Errorf("base sees %v results after WithResult on a copy", got)
	}
	if got := eval(t, "phase.id", sc, withR.WithPhase("p2")); got != "p2" {
		t.Errorf("phase.id = %v", got)
	}
}

func TestEnvFailure(t *testing.T) {
	sc := Scope{Failure: true}
	env := NewEnv(nil, nil, NodeData{}, "upgrade", nil).WithFailure(FailureData{Phase: "upgrade", Step: "sysupgrade", Node: "Node-A", ExitCode: 72, Message: "exit 72"})
	cond, err := CompileCond("failure.phase == 'upgrade' && failure.exitCode in [72, 73] && failure.step startsWith 'sys' && failure.node == 'Node-A' && failure.message != ''", sc)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := cond.Bool(env); err != nil || !ok {
		t.Errorf("failure condition = %v, %v; want true", ok, err)
	}
}

func TestEnvDefaults(t *testing.T) {
	// nil maps and nil groups behave as empty, not as errors.
	env := NewEnv(nil, nil, NodeData{}, "", nil)
	sc := Scope{}
	if got := eval(t, "len(params) + len(vars) + len(node.groups) + len(results)", sc, env); got != 0 {
		t.Errorf("got %v, want 0", got)
	}
	if got := eval(t, "vars.anything", sc, env); got != nil {
		t.Errorf("unset var = %v, want nil", got)
	}
}

func TestListParamAcceptsStringsOrAny(t *testing.T) {
	sc := Scope{Params: map[string]Kind{"l": KindList}}
	for _, l := range []any{[]string{"a", "b"}, []any{"a", "b"}} {
		env := NewEnv(map[string]any{"l": l}, nil, NodeData{}, "", nil)
		if got := eval(t, "join(params.l, '-') + string(len(params.l)) + first(params.l)", sc, env); got != "a-b2a" {
			t.Errorf("%T: got %v", l, got)
		}
		if got := eval(t, "'b' in params.l", sc, env); got != true {
			t.Errorf("%T: in = %v", l, got)
		}
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		name       string
		candidates []string
		want       string
	}{
		{"prams", []string{"params", "phase"}, "params"},
		{"nde", []string{"node", "vars"}, "node"},
		{"x", []string{"params", "node"}, ""},
		{"completelydifferent", []string{"params"}, ""},
		{"exitcode", []string{"exitCode", "node"}, "exitCode"},
		{"a", nil, ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.name, tt.candidates); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
