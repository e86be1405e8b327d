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
		refs  string // "root.name@line:col" (+ "?" when guarded), space-separated
		tests string
	}{
		{`vars.release_dir + "/old"`, "vars.release_dir@1:6", ""},
		{`vars["release_dir"]`, "vars.release_dir@1:6", ""},
		{`vars.x ?? "none"`, "vars.x@1:6?", ""},
		{`vars.x.y ?? 1`, "vars.x@1:6", ""},
		{`results.version?.stdout ?? ""`, "results.version@1:9?", ""},
		{`"x" in vars && vars.x == "y"`, "vars.x@1:21?", "vars.x"},
		{`vars.x != nil && vars.x`, "vars.x@1:6? vars.x@1:23?", "vars.x"},
		{`nil == vars.x`, "vars.x@1:13?", "vars.x"},
		{`params.dir + vars.a`, "params.dir@1:8 vars.a@1:19", ""},
		{`node.name + phase.id`, "", ""},
		{`vars[node.name]`, "", ""},
		{`"y" in vars ? vars.x : ""`, "vars.x@1:20", "vars.y"},
		{"params.port > 1 &&\n  vars.anm", "params.port@1:8 vars.anm@2:8", ""},
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
				if r.Guarded {
					s += "?"
				}
				got = append(got, s)
			}
			if g := strings.Join(got, " "); g != tt.refs {
				t.Errorf("refs %q, want %q", g, tt.refs)
			}
			if g := strings.Join(e.Tests(), " "); g != tt.tests {
				t.Errorf("tests %q, want %q", g, tt.tests)
			}
		})
	}
}

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
