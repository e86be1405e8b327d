package expr

import (
	"errors"
	"strings"
	"testing"
)

// checkError asserts that a compile or render error is an *Error inside src.
func checkError(t *testing.T, src string, err error) {
	t.Helper()
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is %T, not *Error", err, err)
	}
	lines := strings.Count(src, "\n") + 1
	if pe.Line < 1 || pe.Line > lines || pe.Col < 1 || pe.Msg == "" {
		t.Fatalf("error %q at %d:%d is outside the %d-line source %q", pe.Msg, pe.Line, pe.Col, lines, src)
	}
}

func FuzzCompileTemplate(f *testing.F) {
	for _, s := range []string{
		"", "plain text", "cd ${{ params.dir }}/bin", "${{ raw node.name }}", "$${{ x }}",
		"${{ {'a': 1}.a }}", "${{ '}}' }}", "${{", "${{ }}", "a\n${{ nope }}\n", "${{ `x` }}",
		"${{ map(1..10, #) }}", "${{ params.files }}", "${{ \"\\\"}}\" }}", "${{ raw }}", "ü${{ü}}",
		"${{ vars.anm ? 1 : 'x' }}", "${{ stat }}", "${{ params.startup }}",
		"${{ join(split(node.name, ''), '-') + upper(params.dir) }}", "${{ string(params.files) + lower('X') }}",
		"${{ params.port + 1 }} ${{ params.startup + params.startup }}", "${{ map(node.groups, # + '!') }}",
	} {
		f.Add(s, true)
	}
	sc := testScope()
	env := testEnv().With("stat", []any{"a", 1, true, nil})
	f.Fuzz(func(t *testing.T, src string, shell bool) {
		mode := Text
		if shell {
			mode = Shell
		}
		tm, err := CompileTemplate(src, mode, sc)
		if !strings.Contains(src, "${{") {
			if err != nil || !tm.IsConstant() {
				t.Fatalf("template without ${{ did not compile to a constant: %v", err)
			}
			if got, err := tm.Render(env); err != nil || got != src {
				t.Fatalf("constant %q rendered as %q, %v", src, got, err)
			}
			return
		}
		if err != nil {
			checkError(t, src, err)
			return
		}
		if tm.Source() != src || tm.IsZero() {
			t.Fatalf("Source %q IsZero %v", tm.Source(), tm.IsZero())
		}
		out, err := tm.Render(env)
		if err != nil {
			checkError(t, src, err)
			return
		}
		if shell && strings.IndexByte(out, 0) >= 0 && strings.IndexByte(src, 0) < 0 {
			t.Fatalf("shell rendering %q holds a NUL the source did not", out)
		}
	})
}

func FuzzCompileCond(f *testing.F) {
	for _, s := range []string{
		"true", "params.enabled", "'Gateway' in node.groups", "params.port", "nope", "vars.anm",
		"all(node.groups, # != '')", "1..100000000", "let x = 1; x", "results.version.ok",
		"failure.exitCode == 1", "len(params.files) > 2 ? true : false", "(", "params.dir matches '['",
		"node.name matches params.dir + '['", "len(split(params.dir, '')) > 2", "count(node.groups, upper(#) == 'X') == 0",
		"all(node.groups, all(node.groups, # + # != ''))", "string(1) + string(nil) == '1<nil>'",
	} {
		f.Add(s)
	}
	sc := testScope()
	env := testEnv().With("stat", map[string]any{"x": 1})
	f.Fuzz(func(t *testing.T, src string) {
		e, err := CompileCond(src, sc)
		if err != nil {
			checkError(t, src, err)
			return
		}
		if e.Source() != src {
			t.Fatalf("Source %q", e.Source())
		}
		if _, err := e.Bool(env); err != nil {
			checkError(t, src, err)
		}
		if _, err := CompileValue(src, sc); err != nil {
			t.Fatalf("a valid condition is not a valid value: %v", err)
		}
	})
}
