package expr

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

func TestRender(t *testing.T) {
	env := testEnv().With("stat", map[string]any{"lines": []string{"x", "y"}, "nul": "a\x00b", "nested": []any{[]any{"a"}}, "m": map[string]any{}, "empty": "", "none": []any{}})
	tests := []struct {
		name string
		src  string
		mode Mode
		want string
	}{
		{"constant", "./sysupgrade export", Shell, "./sysupgrade export"},
		{"empty", "", Shell, ""},
		{"quoted path", "cd ${{ params.dir }}/bin && ls", Shell, `cd '/opt/My Axway'/bin && ls`},
		{"quote inside", "echo ${{ params.files[1] }}", Shell, `echo 'it'\''s'`},
		{"dollar stays literal", "echo ${{ params.files[2] }}", Shell, `echo '$HOME'`},
		{"list as words", "rm -f ${{ params.files }}", Shell, `rm -f 'a b.txt' 'it'\''s' '$HOME'`},
		{"empty list", "ls ${{ filter(params.files, false) }}", Shell, "ls "},
		{"raw", "${{ raw 'a && b' }}", Shell, "a && b"},
		{"raw list", "x ${{ raw stat.lines }}", Shell, "x x y"},
		{"empty list is no word", "kill ${{ stat.none }}; echo", Shell, "kill ; echo"},
		{"list between operators", "for d in ${{ stat.lines }}; do", Shell, "for d in 'x' 'y'; do"},
		{"int", "-p ${{ params.port }}", Shell, "-p 8080"},
		{"bool", "${{ params.enabled }}", Shell, "true"},
		{"duration", "timeout ${{ params.startup }}", Shell, "timeout 30s"},
		{"empty string is an empty word", "x ${{ stat.empty }}", Shell, "x ''"},
		{"nil with a default", "x ${{ stat.missing ?? '' }}", Shell, "x ''"},
		{"escape", "echo '$${{ not an expr }}'", Shell, "echo '${{ not an expr }}'"},
		{"escape and expr", "$${{ x }} ${{ node.name }}", Shell, "${{ x }} 'Node-A'"},
		{"braces inside", "${{ {'a': {'b': 'c'}}.a.b }}", Text, "c"},
		{"closing braces in string", "${{ '}}' + \"}}\" }}!", Text, "}}}}!"},
		{"adjacent", "${{node.name}}${{node.port}}", Text, "Node-A22"},
		{"text string", "http://${{ node.host }}:${{ params.port }}/", Text, "http://10.0.0.11:8080/"},
		{"text list", "${{ node.groups }}", Text, "Gateway,AdminNodeManager"},
		{"text keeps quotes", "${{ params.files[1] }}", Text, "it's"},
		{"multi-line", "a\n${{ node.user }}\nb", Shell, "a\n'axway'\nb"},
		{"float", "${{ 1.5 }}", Shell, "1.5"},
		{"unicode", "${{ 'Größe ✓' }}", Shell, "'Größe ✓'"},
		{"dollar not template", "echo $HOME ${ x } {{ y }}", Shell, "echo $HOME ${ x } {{ y }}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, err := CompileTemplate(tt.src, tt.mode, testScope())
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if tm.Source() != tt.src || tm.IsZero() {
				t.Errorf("Source() = %q, IsZero() = %v", tm.Source(), tm.IsZero())
			}
			got, err := tm.Render(env)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTemplateErrors(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		line, col int
		msg       string
	}{
		{"unknown param", "cd ${{ params.dri }}", 1, 15, `unknown param "dri" (did you mean "dir"?)`},
		{"second expression", "${{ node.name }} ${{ node.nme }}", 1, 27, `node has no field "nme"`},
		{"multi-line", "set -e\ncd /tmp\n  echo ${{ nde.name }}\n", 3, 12, `unknown name "nde"`},
		{"expression spans lines", "x ${{ node.name +\n   zz }}", 2, 4, `unknown name "zz"`},
		{"unicode before", "größe ✓ ${{ nope }}", 1, 13, `unknown name "nope"`},
		{"unterminated", "a\nb ${{ node.name", 2, 3, "unterminated ${{"},
		{"unterminated string", "${{ 'abc }}", 1, 1, "unterminated ${{"},
		{"empty", "x ${{   }}", 1, 9, "empty expression"},
		{"raw alone", "x ${{ raw }}", 1, 7, "raw needs an expression"},
		{"map", "echo ${{ node }}", 1, 10, "cannot insert a map"},
		{"syntax", "echo ${{ node.name + }}", 1, 21, "unexpected token"},
		{"after escape", "$${{ x }} ${{ x }}", 1, 15, `unknown name "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompileTemplate(tt.src, Shell, testScope())
			var pe *Error
			if !asError(err, &pe) {
				t.Fatalf("got %v (%T), want *Error", err, err)
			}
			if pe.Line != tt.line || pe.Col != tt.col {
				t.Errorf("position %d:%d, want %d:%d (%s)", pe.Line, pe.Col, tt.line, tt.col, pe.Msg)
			}
			if !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("message %q does not contain %q", pe.Msg, tt.msg)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	env := testEnv().With("stat", map[string]any{"nul": "a\x00b", "nested": []any{[]any{"a"}}, "m": map[string]any{"k": 1},
		"lines": []string{"x", "y"}, "none": []any{}})
	tests := []struct {
		name      string
		src       string
		mode      Mode
		line, col int
		msg       string
	}{
		{"nul", "echo\n  ${{ stat.nul }}", Shell, 2, 7, "NUL byte"},
		{"nul raw", "echo ${{ raw stat.nul }}", Shell, 1, 14, "NUL byte"},
		{"nul in list", "echo ${{ [stat.nul] }}", Shell, 1, 10, "NUL byte"},
		{"map at run time", "x ${{ stat.m }}", Text, 1, 7, "cannot insert a map"},
		{"list of lists", "x ${{ stat.nested }}", Shell, 1, 7, "list of lists"},
		{"eval error", "x ${{ int('q') }}", Shell, 1, 7, "invalid operation"},
		{"nil", "rm -rf ${{ stat.missing }}/old", Shell, 1, 12, "${{ stat.missing }} has no value for this node (nil)"},
		{"nil raw", "rm -rf ${{ raw stat.missing }}/old", Shell, 1, 16, "has no value"},
		{"nil in text", "http://${{ stat.missing }}/", Text, 1, 12, "has no value"},
		{"nil in list", "x ${{ ['a', stat.missing] }}", Shell, 1, 7, "nil in list element 1"},
		{"list glued to text", "rm -rf ${{ stat.lines }}/old", Shell, 1, 12, "must stand as a word of its own"},
		{"empty list glued to text", "rm -rf ${{ stat.none }}/old", Shell, 1, 12, "must stand as a word of its own"},
		{"list glued before", "--dir=${{ stat.lines }}", Shell, 1, 11, "must stand as a word of its own"},
		{"empty list in text", "http://h/${{ stat.none }}", Text, 1, 14, "is an empty list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, err := CompileTemplate(tt.src, tt.mode, testScope())
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			_, err = tm.Render(env)
			var pe *Error
			if !asError(err, &pe) {
				t.Fatalf("got %v (%T), want *Error", err, err)
			}
			if pe.Line != tt.line || pe.Col != tt.col {
				t.Errorf("position %d:%d, want %d:%d (%s)", pe.Line, pe.Col, tt.line, tt.col, pe.Msg)
			}
			if !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("message %q does not contain %q", pe.Msg, tt.msg)
			}
		})
	}
}

func TestNulAllowedInText(t *testing.T) {
	tm, err := CompileTemplate("${{ stat }}", Text, Scope{Extra: []string{"stat"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := tm.Render(NewEnv(nil, nil, NodeData{}, "", nil).With("stat", "a\x00b"))
	if err != nil || got != "a\x00b" {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestConstantAndZero(t *testing.T) {
	env := testEnv()
	tests := []struct {
		name     string
		tm       *Template
		zero     bool
		constant bool
		want     string
	}{
		{"Constant", Constant("a ${{ b }}"), false, true, "a ${{ b }}"},
		{"Constant empty", Constant(""), false, true, ""},
		{"Zero", Zero(), true, true, ""},
		{"nil", nil, true, true, ""},
		{"compiled without exprs", must(CompileTemplate("plain", Shell, Scope{})), false, true, "plain"},
		{"only escapes", must(CompileTemplate("$${{ a }}", Shell, Scope{})), false, true, "${{ a }}"},
		{"with expr", must(CompileTemplate("${{ node.name }}", Text, Scope{})), false, false, "Node-A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.tm.IsZero() != tt.zero || tt.tm.IsConstant() != tt.constant {
				t.Errorf("IsZero %v IsConstant %v, want %v %v", tt.tm.IsZero(), tt.tm.IsConstant(), tt.zero, tt.constant)
			}
			got, err := tt.tm.Render(env)
			if err != nil || got != tt.want {
				t.Errorf("Render = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func must(t *Template, err error) *Template {
	if err != nil {
		panic(err)
	}
	return t
}

// TestConcurrentRender shares compiled templates between goroutines, as the
// runner does across nodes; -race checks the VM pool and the Env.
func TestConcurrentRender(t *testing.T) {
	tm := must(CompileTemplate("cd ${{ params.dir }} && echo ${{ node.name }} ${{ len(params.files) }}", Shell, testScope()))
	cond, err := CompileCond("'Gateway' in node.groups", testScope())
	if err != nil {
		t.Fatal(err)
	}
	base := testEnv()
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			env := base.WithPhase("p").With("stat", i)
			for j := 0; j < 200; j++ {
				got, err := tm.Render(env)
				if err != nil || got != `cd '/opt/My Axway' && echo 'Node-A' 3` {
					errs <- got
					return
				}
				if ok, err := cond.Bool(env); err != nil || !ok {
					errs <- "cond"
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent render: %q", e)
	}
}

// TestTemplateManyExpressions: an error in the last of thousands of
// expressions, on the second line, is placed at its line and column (each
// expression is placed from where the one before ended, not from the start).
func TestTemplateManyExpressions(t *testing.T) {
	src := "größe\n" + strings.Repeat("${{ node.name }} ", 20000) + "${{ zzzz }}"
	_, err := CompileTemplate(src, Shell, testScope())
	var ee *Error
	if !errors.As(err, &ee) {
		t.Fatalf("want *Error, got %v", err)
	}
	if want := 20000*17 + 5; ee.Line != 2 || ee.Col != want || ee.Msg != `unknown name "zzzz"` {
		t.Errorf("got %v, want 2:%d: unknown name \"zzzz\"", ee, want)
	}
}
