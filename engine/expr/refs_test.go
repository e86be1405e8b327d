package expr

import (
	"fmt"
	"strings"
	"testing"
)

// TestRefs: every params/vars/results name an expression reads is reported
// at its position, guarded only when the expression itself copes with a
// missing value.
func TestRefs(t *testing.T) {
	sc := testScope()
	sc.Vars = nil // any var: the loader checks them against the inventory
	tests := []struct {
		src   string
		refs  string // "root.name@line:col" (+ "/guard" when guarded), space-separated
		tests string
	}{
		{`vars.release_dir + "/old"`, "vars.release_dir@1:6", ""},
		{`vars["release_dir"]`, "vars.release_dir@1:7", ""},
		{`vars.x ?? "none"`, "vars.x@1:6/default", ""},
		{`vars.x.y ?? 1`, "vars.x@1:6", ""},
		{`results.version?.stdout ?? ""`, "results.version@1:9/default", ""},
		{`"x" in vars && vars.x == "y"`, "vars.x@1:21/present", "vars.x/present"},
		{`vars.x != nil && vars.x`, "vars.x@1:6 vars.x@1:23/nonnil", "vars.x/nonnil"},
		{`nil != vars.x && vars.x`, "vars.x@1:13 vars.x@1:23/nonnil", "vars.x/nonnil"},
		{`params.dir + vars.a`, "params.dir@1:8 vars.a@1:19", ""},
		{`node.name + phase.id`, "node.name@1:6", ""},
		{`node.user ?? "root"`, "node.user@1:6/default", ""},
		{`vars[node.name]`, "node.name@1:11", ""},
		{`"y" in vars ? vars.x : ""`, "vars.x@1:20", ""},
		{`"x" in vars ? vars.x : ""`, "vars.x@1:20/present", ""},
		{"params.port > 1 &&\n  vars.anm", "params.port@1:8 vars.anm@2:8", ""},
		// Polarity: a test guards only where it holds.
		{`vars.x == nil`, "vars.x@1:6", ""},
		{`!("x" in vars) && vars.x == 1`, "vars.x@1:24", ""},
		{`"x" in vars || vars.x == 1`, "vars.x@1:21", ""},
		{`!("x" in vars) || vars.x == 1`, "vars.x@1:24/present", ""},
		{`vars.x == nil || vars.x > 1`, "vars.x@1:6 vars.x@1:23/nonnil", ""},
		{`"x" in vars ? "" : vars.x`, "vars.x@1:25", ""},
		{`!("x" in vars) ? "" : vars.x`, "vars.x@1:28/present", ""},
		{`"a" in vars && ("x" in vars && vars.x == 1)`, "vars.x@1:37/present", "vars.a/present vars.x/present"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, err := CompileValue(tt.src, sc)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range e.Refs() {
				s := fmt.Sprintf("%s@%d:%d", r.Key(), r.Line, r.Col)
				if r.Guard != Unguarded {
					s += "/" + guardNames[r.Guard]
				}
				got = append(got, s)
			}
			if g := strings.Join(got, " "); g != tt.refs {
				t.Errorf("refs %q, want %q", g, tt.refs)
			}
			var tests []string
			for _, tst := range e.Tests() {
				tests = append(tests, tst.Key+"/"+guardNames[tst.Guard])
			}
			if g := strings.Join(tests, " "); g != tt.tests {
				t.Errorf("tests %q, want %q", g, tt.tests)
			}
		})
	}
}

var guardNames = map[Guard]string{Present: "present", NonNil: "nonnil", Default: "default"}

// TestTemplateRefs: a template's references are positioned in the whole
// template text, across lines.
func TestTemplateRefs(t *testing.T) {
	sc := testScope()
	sc.Vars = nil
	tm, err := CompileTemplate("rm -rf ${{ vars.relase_dir }}/old\necho ${{ raw params.dir }}", Shell, sc)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range tm.Refs() {
		got = append(got, fmt.Sprintf("%s@%d:%d", r.Key(), r.Line, r.Col))
	}
	if g, want := strings.Join(got, " "), "vars.relase_dir@1:17 params.dir@2:21"; g != want {
		t.Errorf("refs %q, want %q", g, want)
	}
}
