package load

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// scanCases are items of a nodes list, each as the whole text of its
// lines: the subset itemScanner reads, and what it must decline.
var scanCases = []string{
	"- name: web-1\n  host: 10.0.0.1\n  groups: [web, eu]\n  vars: {tier: front, weight: 3}\n",
	"- name: a\n",
	"- name: a\n  port: 22\n\n\n",
	"    - name: a\n      host: h\n",
	"- {name: web-2, host: 10.0.0.2, port: 2222}\n",
	"- {name: a, vars: {x: [1, 2], w: {k: v}}}\n",
	"- {name: a, groups: []}\n",
	"- {name: a, vars: {}}\n",
	"- name: 'quoted'\n  host: \"dq\"\n",
	"- name: \"a b: c\"\n",
	"- name: 'it''s'\n",
	"- name: \"esc\\n\"\n",
	"- name: a # comment\n",
	"- name: a\n  # comment\n  host: h\n",
	"- name: a\n\n  host: h\n",
	"- name: a\n   host: h\n",
	"- name: a\n host: h\n",
	"- name:\n    b\n",
	"- name: a\n  vars:\n    x: 1\n",
	"- name: yes\n", "- name: No\n", "- name: ON\n", "- name: y\n", "- name: ~\n", "- name: null\n", "- name: NULL\n",
	"- name: True\n", "- name: .inf\n", "- name: -1\n", "- name: +1\n", "- name: 0x1F\n", "- name: 012\n",
	"- name: 0\n", "- name: 1_000\n", "- name: 1e3\n", "- name: 1.5\n", "- name: 1.2.3\n", "- name: 1..2\n",
	"- name: 2001-12-14\n", "- name: 12:30\n", "- name: 999999999999999999\n", "- name: 9999999999999999999\n",
	"- name: /run/x\n", "- name: a@b\n", "- name: '@a'\n", "- name: a b\n", "- name: a:b\n", "- name: é\n",
	"- name: a\n  host: h  \n", "- name:  a\n", "- {name: a,host: b}\n", "- {name: a , host: b}\n",
	"- {name: a, host: b,}\n", "- {name: a} x\n", "- {name: a}\n  host: h\n", "- [a]\n", "-  name: a\n",
	"- name: &x a\n", "- name: *x\n", "- name: !!str a\n", "- {name: a, vars: {x: [[1]]}}\n",
	"- {name: a, vars: {<<: {b: 1}}}\n", "- {name: a, vars: {8080: y}}\n", "- {name: a, vars: {x: \"\"}}\n",
	"- {name: a, groups: [g, 'h']}\n", "- name: a\n  name: b\n", "- host: h\n", "- name: \"\"\n",
	"- {name: a, vars: {x: 'a,b'}}\n", "- {name: a, vars: {x: \"}\"}}\n", "- name: 'a'b\n", "- name: \"a\"\"b\"\n",
}

// sameTree reports how a and b differ, "" when they do not.
func sameTree(a, b *yaml.Node, at string) string {
	if a.Kind != b.Kind || a.Style != b.Style || a.Tag != b.Tag || a.Value != b.Value || a.Anchor != b.Anchor ||
		a.HeadComment != b.HeadComment || a.LineComment != b.LineComment || a.FootComment != b.FootComment ||
		a.Line != b.Line || a.Column != b.Column || (a.Alias == nil) != (b.Alias == nil) || len(a.Content) != len(b.Content) {
		return fmt.Sprintf("%s: scanned %+v, yaml.v3 %+v", at, *a, *b)
	}
	for i := range a.Content {
		if d := sameTree(a.Content[i], b.Content[i], fmt.Sprintf("%s/%d", at, i)); d != "" {
			return d
		}
	}
	return ""
}

// scanAgrees checks one item: when itemScanner reads it, yaml.v3 reads it
// as one item with the very same tree (lines counted from line 7).
func scanAgrees(t *testing.T, text string) (read bool) {
	t.Helper()
	indent := len(text) - len(strings.TrimLeft(text, " "))
	s := newItemScanner()
	got, ok := s.item([]byte(text), 6, indent)
	if !ok {
		return false
	}
	items, _, ok := parsePiece([]byte(text), 1, 6)
	if !ok {
		t.Errorf("%q: scanned, but yaml.v3 does not read it as one item", text)
		return true
	}
	if d := sameTree(got, items[0], "item"); d != "" {
		t.Errorf("%q: %s", text, d)
	}
	return true
}

func TestItemScannerMatchesYAML(t *testing.T) {
	read := 0
	for _, c := range scanCases {
		if scanAgrees(t, c) {
			read++
		}
	}
	for _, c := range nodeCases {
		if scanAgrees(t, "- "+c+"\n") {
			read++
		}
	}
	// The subset must be worth having: the usual forms are read.
	for _, c := range scanCases[:9] {
		if _, ok := newItemScanner().item([]byte(c), 0, len(c)-len(strings.TrimLeft(c, " "))); !ok {
			t.Errorf("%q: declined, but it is of the subset", c)
		}
	}
	t.Logf("%d of %d items read without yaml.v3", read, len(scanCases)+len(nodeCases))
}

// The arena is reused: an item read after another is whole, and a large
// item past the arena is declined, not cut.
func TestItemScannerArena(t *testing.T) {
	s := newItemScanner()
	a, ok := s.item([]byte("- {name: a, groups: [x, z]}\n"), 0, 0)
	if !ok || a.Content[1].Value != "a" {
		t.Fatalf("first item: %v", ok)
	}
	var big bytes.Buffer
	big.WriteString("- name: a\n  vars: {")
	for i := range scanArena {
		if i > 0 {
			big.WriteString(", ")
		}
		fmt.Fprintf(&big, "v%d: %d", i, i)
	}
	big.WriteString("}\n")
	if _, ok := s.item(big.Bytes(), 0, 0); ok {
		t.Error("an item of more values than the arena holds was read")
	}
	b, ok := s.item([]byte("- name: b\n  host: h\n"), 0, 0)
	if !ok || len(b.Content) != 4 || b.Content[1].Value != "b" || b.Content[3].Value != "h" {
		t.Fatalf("item after a declined one: %v %+v", ok, b)
	}
}

// FuzzItemScannerMatchesYAML: on any text, itemScanner either declines it
// or reads the tree yaml.v3 reads.
func FuzzItemScannerMatchesYAML(f *testing.F) {
	for _, c := range scanCases {
		f.Add(c)
	}
	for _, c := range nodeCases {
		f.Add("- " + c + "\n")
	}
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 4<<10 {
			return
		}
		scanAgrees(t, text)
	})
}
