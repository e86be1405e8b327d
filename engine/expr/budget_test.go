package expr

import (
	"runtime"
	"strings"
	"testing"
)

// hostileEnv holds large values, as an inventory or a command's output
// may: a 1 MiB string, a string of 2,000 quotes, a list of 2,000 elements.
func hostileEnv() *Env {
	list := make([]any, 2000)
	for i := range list {
		list[i] = "x"
	}
	return testEnv().With("stat", map[string]any{
		"big":    strings.Repeat("a", 1<<20),
		"quotes": strings.Repeat("'", 2000),
		"list":   list,
	}).(*Env)
}

// TestBudgets: every builtin and operator that builds something charges
// the evaluation's budget before building it. Each hostile expression
// fails with an error at the builtin or operator that went over, having
// allocated a bounded amount (before the budgets, the nested split took
// 2.4 GB and died).
func TestBudgets(t *testing.T) {
	env := hostileEnv()
	tests := []struct {
		name, src string
		col       int // where the error points
		msg       string
	}{
		{"nested split", `split(join(split(stat.big, ""), stat.big), "")`, 7, "join would build 1048576 MiB"},
		{"join with a long glue", `join(split(stat.big, ""), stat.big)`, 1, "more than the 16 MiB an expression may build"},
		{"split into too many pieces", `split(stat.big + stat.big, "")`, 1, "split would build 32 MiB"},
		{"concatenation chain", strings.Repeat("stat.big + ", 40) + "stat.big", 0, "+ would build"},
		{"doubling inside a predicate", `map(stat.list, # + stat.big)`, 18, "+ would build"},
		{"upper of a grown string", `upper(` + strings.Repeat("stat.big + ", 4) + `stat.big)`, 1, "upper would build 7.5 MiB"},
		{"lower", `lower(` + strings.Repeat("stat.big + ", 4) + `stat.big)`, 1, "lower would build 7.5 MiB"},
		{"string of a long list", `string(split(stat.big, "")) + string(split(stat.big, ""))`, 0, "would build"},
		{"nested predicates", `count(stat.list, count(stat.list, count(stat.list, true) > 0) > 0)`, 0, "its iteration budget"},
		{"filter over a split", `len(filter(split(stat.big, ""), # == "a")) + len(filter(split(stat.big, ""), # == "b"))`, 0, "budget"},
		{"a long dynamic pattern", `"a" matches stat.big`, 5, "the pattern is 1 MiB, more than the 64 KiB a pattern may be"},
		{"range", `1..10000000`, 0, "more than 100000 list and map elements (its memory budget)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := CompileValue(tt.src, testScope())
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err = e.Eval(env)
			runtime.ReadMemStats(&after)
			allocated := after.TotalAlloc - before.TotalAlloc
			var pe *Error
			if !asError(err, &pe) {
				t.Fatalf("got %v, want an *Error", err)
			}
			if !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("message %q does not contain %q", pe.Msg, tt.msg)
			}
			if tt.col != 0 && (pe.Line != 1 || pe.Col != tt.col) {
				t.Errorf("at %d:%d, want 1:%d (%s)", pe.Line, pe.Col, tt.col, pe.Msg)
			}
			t.Logf("%s: %d KiB allocated", pe.Msg, allocated>>10)
			if limit := uint64(3 * ByteBudget); allocated > limit {
				t.Errorf("allocated %d MiB, more than %d MiB", allocated>>20, limit>>20)
			}
		})
	}
}

// TestBudgetsAllowOrdinaryUse: the budgets leave room for what plans do,
// and a metered expression still computes what expr's builtins would.
func TestBudgetsAllowOrdinaryUse(t *testing.T) {
	env := hostileEnv()
	tests := []struct {
		src  string
		want any
	}{
		{`len(split(stat.big, ""))`, 1 << 20},
		{`len(stat.big + stat.big)`, 2 << 20},
		{`join(split("a,b,c", ","), "-")`, "a-b-c"},
		{`join(["a", "b"])`, "ab"},
		{`upper("é") + lower("ÀB")`, "Éàb"},
		{`string(params.files)`, "[a b.txt it's $HOME]"},
		{`string(42)`, "42"},
		{`params.port + 1`, 8081},
		{`params.startup + params.startup`, 60_000_000_000},
		{`1.5 + 1`, 2.5},
		{`count(stat.list, # == "x")`, 2000},
		{`"abc" matches node.name[0:0] + "b"`, true},
		{`split("a,b,c", ",", 2)`, []string{"a", "b,c"}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, err := CompileValue(tt.src, testScope())
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			got, err := e.Eval(env)
			if err != nil {
				t.Fatalf("eval: %v", err)
			}
			if s, ok := got.([]string); ok {
				if strings.Join(s, "|") != strings.Join(tt.want.([]string), "|") {
					t.Errorf("got %q, want %q", s, tt.want)
				}
				return
			}
			if d, ok := got.(interface{ Nanoseconds() int64 }); ok {
				got = int(d.Nanoseconds())
			}
			if got != tt.want {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

// TestBudgetTypeChecks: the metered stand-ins check types as expr's
// builtins do, at load time.
func TestBudgetTypeChecks(t *testing.T) {
	for _, tt := range []struct{ src, msg string }{
		{`"a" + 1`, "invalid operation: + (mismatched types string and int)"},
		{`split(1, ",")`, "split: argument 1 must be a string, not int"},
		{`upper(params.port)`, "upper: argument 1 must be a string, not int"},
		{`join(1)`, "join: argument 1 must be a list of strings, not int"},
		{`node.name + node.port`, "mismatched types string and int"},
		{`node.name matches "` + strings.Repeat("a", MaxPattern+1) + `"`, "the pattern is 65537 bytes, more than the 64 KiB a pattern may be"},
	} {
		_, err := CompileValue(tt.src, testScope())
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: got %v, want %q", tt.src, err, tt.msg)
		}
	}
}

// TestRenderBudget: a template that writes a large value many times stops
// at the budget of one rendering.
func TestRenderBudget(t *testing.T) {
	tm, err := CompileTemplate("echo "+strings.Repeat("${{ stat.big }} ", 20), Shell, testScope())
	if err != nil {
		t.Fatal(err)
	}
	_, err = tm.Render(hostileEnv())
	var pe *Error
	if !asError(err, &pe) || !strings.Contains(pe.Msg, "the rendered text would be more than 16 MiB") {
		t.Fatalf("got %v", err)
	}
	tm, err = CompileTemplate("echo ${{ stat.quotes }}", Shell, testScope())
	if err != nil {
		t.Fatal(err)
	}
	if out, err := tm.Render(hostileEnv()); err != nil || len(out) != 5+2+4*2000 {
		t.Fatalf("quotes: %d bytes, %v", len(out), err)
	}
}
