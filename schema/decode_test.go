package schema

import (
	"fmt"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	cases := []struct {
		name, yaml string
		line, col  int
		frag       string
	}{
		{"ok", "a: 1\n", 0, 0, ""},
		{"only comments", "# plan\n\n", 1, 1, "the document is empty"},
		{"only a document marker", "---\n", 1, 1, "the document is empty"},
		{"no bytes", "", 1, 1, "the document is empty"},
		{"second document", "a: 1\n---\nb: 2\n", 2, 1, "a second YAML document starts here"},
		{"second document is broken", "a: 1\n---\nb: [\n", 3, 1, "did not find expected node content"},
		{"sequence after mapping", "a: 1\n- b\n", 2, 1, "did not find expected key"},
		{"mapping after sequence", "- a\nb: 1\n", 2, 1, "did not find expected '-' indicator"},
		{"value on a key's line twice", "a: b: c\n", 1, 1, "mapping values are not allowed"},
		{"over-indented key", "a: 1\n  b: 2\n", 2, 3, "mapping values are not allowed"},
		{"unclosed list", "a:\n  b: [1, 2\n  c: 3\n", 2, 6, "this [ is never closed"},
		{"bad token", "a: 1\nb: @x\n", 2, 1, "found character that cannot start any token"},
		{"tab", "a:\n\tb: 1\n", 2, 1, "indent with spaces"},
		{"unknown alias", "a: 1\nb: [x, *nope]\n", 2, 8, `unknown anchor "nope"`},
		{"bad escape", "a: \"x\\qy\"\n", 1, 1, "found unknown escape character"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, problems := Decode("f.yaml", []byte(tc.yaml))
			if tc.frag == "" {
				if doc == nil || len(problems) != 0 {
					t.Fatalf("want a document and no problems, got %v", problems)
				}
				return
			}
			if doc != nil || len(problems) != 1 {
				t.Fatalf("want one problem and no document, got %d: %v", len(problems), problems)
			}
			p := problems[0]
			if p.File != "f.yaml" || p.Line != tc.line || p.Col != tc.col || !strings.Contains(p.Msg, tc.frag) {
				t.Errorf("got %s, want f.yaml:%d:%d: ...%s...", p, tc.line, tc.col, tc.frag)
			}
		})
	}
}

func TestDecodeKeepsPositions(t *testing.T) {
	doc, problems := Decode("f.yaml", []byte("# head\napiVersion: zdu/v1\nname: x\n"))
	if doc == nil {
		t.Fatal(problems)
	}
	name := doc.Content[0].Content[3]
	if name.Value != "x" || name.Line != 3 || name.Column != 7 {
		t.Errorf("name value %q at %d:%d, want x at 3:7", name.Value, name.Line, name.Column)
	}
}

func TestDecodeDepth(t *testing.T) {
	at := func(depth int) string {
		return "a: " + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + "\n"
	}
	if _, probs := Decode("ok.yaml", []byte(at(MaxDepth))); len(probs) > 0 {
		t.Fatalf("%d levels: %v", MaxDepth, probs)
	}
	_, probs := Decode("deep.yaml", []byte(at(MaxDepth+1)))
	want := Problem{File: "deep.yaml", Line: 1, Col: 4 + MaxDepth - 1,
		Msg: "mappings and lists nest more than 64 deep here; a plan or an inventory needs far fewer levels"}
	if len(probs) != 1 || probs[0] != want {
		t.Fatalf("got %v, want %v", probs, want)
	}
	// Block style counts the same, and yaml.v3's own limit is far beyond.
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, "%s- \n", strings.Repeat("  ", i))
	}
	if _, probs := Decode("block.yaml", []byte(b.String())); len(probs) != 1 || probs[0].Line != MaxDepth+1 {
		t.Fatalf("block nesting: %v", probs)
	}
}
