package load

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/schema"
)

// nodeCases are inventory nodes, good and bad, one flow mapping each: every
// key of the schema's node with values of every type, bad patterns, empty
// strings, unknown and misspelt keys, repeated keys, YAML tags, merge keys.
var nodeCases = []string{
	`{name: a}`, `{name: ""}`, `{name: 1}`, `{name: [a]}`, `{name: null}`, `{host: x}`, `{}`,
	`{name: a, host: ""}`, `{name: a, host: 10.0.0.1}`, `{name: a, host: 1.5}`, `{name: a, host: 'h'}`,
	`{name: a, port: 0}`, `{name: a, port: 65536}`, `{name: a, port: 65535}`, `{name: a, port: 1}`,
	`{name: a, port: "22"}`, `{name: a, port: 22.0}`, `{name: a, port: 0x16}`, `{name: a, port: 022}`,
	`{name: a, port: -1}`, `{name: a, port: !!str 22}`, `{name: a, port: 1_000}`, `{name: a, port: +22}`,
	`{name: a, port: 99999999999999999999}`, `{name: a, port: true}`, `{name: a, port: null}`,
	`{name: a, user: ""}`, `{name: a, user: root}`, `{name: a, user: [root]}`,
	`{name: a, transport: ssh}`, `{name: a, transport: local}`, `{name: a, transport: SSH}`,
	`{name: a, transport: sh}`, `{name: a, transport: ""}`,
	`{name: a, groups: g}`, `{name: a, groups: [g, h]}`, `{name: a, groups: [g, g]}`, `{name: a, groups: [.g]}`,
	`{name: a, groups: "-g"}`, `{name: a, groups: []}`, `{name: a, groups: [1]}`, `{name: a, groups: {g: 1}}`,
	`{name: a, groups: all}`, `{name: a, groups: [g.1, _x, 9-a]}`, `{name: a, groups: [g, null]}`, `{name: a, groups: ""}`,
	`{name: a, vars: null}`, `{name: a, vars: {}}`, `{name: a, vars: ~}`,
	`{name: a, vars: {x: 1, y: "s", z: true, f: 1.5, n: null, l: [1, 2], m: {k: v}}}`,
	`{name: a, vars: {1x: 1}}`, `{name: a, vars: {x-y: 1}}`, `{name: a, vars: {_x9: 1}}`, `{name: a, vars: [x]}`,
	`{name: a, vars: x}`, `{name: a, vars: {x: 1, x: 2}}`, `{name: a, vars: {x: {k: 1, k: 2}}}`,
	`{name: a, vars: {x: "a\0b"}}`, `{name: a, vars: {x: [ok, "a\0b"]}}`, `{name: a, vars: {x: !!int 12}}`,
	`{name: a, vars: {x: !!int abc}}`, `{name: a, vars: {x: !!binary aGk=}}`, `{name: a, vars: {x: 2001-12-14}}`,
	`{name: a, vars: {x: 99999999999999999999}}`, `{name: a, vars: {x: 0x10}}`, `{name: a, vars: {x: 010}}`,
	`{name: a, vars: {x: +5}}`, `{name: a, vars: {x: -0}}`, `{name: a, vars: {x: True}}`, `{name: a, vars: {x: yes}}`,
	`{name: a, vars: {x: .inf}}`, `{name: a, vars: {x: -.nan}}`, `{name: a, vars: {x: 1e3}}`, `{name: a, vars: {x: -12}}`,
	`{name: a, vars: {x: 007}}`, `{name: a, vars: {x: 0}}`, `{name: a, vars: {x: 9223372036854775807}}`,
	`{name: a, vars: {[a]: 1}}`, `{name: a, vars: {x: {[a]: 1}}}`, `{name: a, vars: {x: {<<: {b: 1}}}}`,
	`{name: a, vars: {<<: {b: 1}}}`, `{name: a, vars: {x: {8080: y, true: z, ~: n}}}`, `{name: a, vars: {x: !custom y}}`,
	`{name: a, proxyJump: ""}`, `{name: a, proxyJump: bastion}`, `{name: a, proxyJump: 22}`,
	`{name: a, extra: 1}`, `{name: a, hosts: x}`, `{name: a, Name: b}`, `{name: a, name: b}`, `{name: a, 1: b}`,
	`{name: a, <<: {host: h}}`, `{name: a, [k]: v}`, `!!map {name: a}`, `{name: !!str a}`, `{name: !!str 1}`,
	`{name: "node 1"}`, `{name: "-a"}`, `{name: "a\0"}`, `{name: dup}`,
	`{name: a, port: 22, user: u, transport: ssh, groups: [g], vars: {v: 1}, proxyJump: j, host: h}`,
	`x`, `~`, `[a]`, `""`,
}

// inventoryAround puts items (each the text of one list item after "- ")
// between good nodes, in block layout or, when flow, as one flow list.
func inventoryAround(flow bool, items ...string) string {
	all := append([]string{`{name: first, groups: [g], vars: {v: 1}}`}, items...)
	all = append(all, `{name: dup, host: h2}`, `{name: last}`)
	var b strings.Builder
	b.WriteString("apiVersion: zdu/v1\nkind: Inventory\ndefaults: {user: deploy, port: 2222}\nvars: {top: 1}\ngroups:\n  g: {vars: {gv: x}}\nnodes:\n")
	if flow {
		b.WriteString("  [" + strings.Join(all, ",\n   ") + "]\n")
	} else {
		for _, it := range all {
			b.WriteString("  - " + it + "\n")
		}
	}
	b.WriteString("loadBalancers:\n  gateway:\n    driver: haproxy\n    backend: be\n    servers: {first: s1}\n    instances: [{name: lb, socket: /run/haproxy.sock}]\n")
	return b.String()
}

// agree checks that the quick way (pieces, plainNode, the schema passing
// over the checked nodes) and the generic way give the same inventory and
// the same problems, at the same FILE:LINE:COL with the same words.
func agree(t *testing.T, name, data string) (problems int) {
	t.Helper()
	gi, gp := parseInventory("inv.yaml", []byte(data), true)
	qi, qp := parseInventory("inv.yaml", []byte(data), false)
	if !reflect.DeepEqual(gp, qp) {
		t.Errorf("%s: problems differ\ngeneric: %s\nquick:   %s\ninput:\n%s", name, problemLines(gp), problemLines(qp), data)
	}
	if !reflect.DeepEqual(gi, qi) {
		t.Errorf("%s: inventories differ\ngeneric: %s\nquick:   %s", name, showInventory(gi), showInventory(qi))
	}
	return len(gp)
}

func showInventory(in *Inventory) string {
	if in == nil {
		return "nil"
	}
	s := fmt.Sprintf("%+v", *in)
	for _, n := range in.Nodes {
		s += fmt.Sprintf("\n  %+v", *n)
	}
	return s
}

func problemLines(ps []schema.Problem) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.String())
	}
	return strings.Join(out, "\n         ")
}

// TestNodeShapeAgreesWithSchema: on every node of the corpus, alone among
// good nodes, in block and flow layout, the quick way and the schema's
// agree; and most of the corpus is refused, so the test is about errors.
func TestNodeShapeAgreesWithSchema(t *testing.T) {
	bad := 0
	for i, c := range nodeCases {
		for _, flow := range []bool{false, true} {
			if agree(t, fmt.Sprintf("case %d %s (flow %v)", i, c, flow), inventoryAround(flow, c)) > 0 && !flow {
				bad++
			}
		}
	}
	if bad < len(nodeCases)/2 {
		t.Errorf("only %d of %d cases have problems: the corpus is meant to be of bad nodes", bad, len(nodeCases))
	}
	// Every bad node at once: each problem at its own place.
	agree(t, "all cases", inventoryAround(false, nodeCases...))
	agree(t, "all cases, flow", inventoryAround(true, nodeCases...))
}

// TestInventoryLayoutsAgree: inventories the piecewise parse takes or must
// refuse (anchors, aliases, merge keys, tabs, CRLF, items at column 0,
// comments, block scalars, syntax errors inside a node, a list longer than
// one piece) load the same as parsed whole.
func TestInventoryLayoutsAgree(t *testing.T) {
	head := "apiVersion: zdu/v1\nkind: Inventory\n"
	cases := map[string]string{
		"alias item":           head + "nodes:\n  - &n {name: a}\n  - *n\n",
		"anchored node":        head + "nodes:\n  - &n {name: a, vars: {x: 1}}\n  - {name: b, <<: *n}\n",
		"anchored vars":        head + "vars: &v {x: 1}\nnodes:\n  - {name: a, vars: *v}\n  - {name: b, vars: {<<: *v, y: 2}}\n",
		"anchor inside a node": head + "nodes:\n  - name: a\n    vars: {x: &x 1}\n  - name: b\n    vars: {y: *x}\n",
		"items at column 0":    head + "nodes:\n- name: a\n  host: h\n- name: b\n  port: 0\nloadBalancers: {}\n",
		"comments":             head + "nodes: # the fleet\n  # first\n  - name: a # a node\n\n# at column 0\n    host: h\n  - name: b\n# end\n",
		"block scalars":        head + "nodes:\n  - name: a\n    vars:\n      script: |\n        echo 1\n        - not an item\n      folded: >\n        x\n  - name: b\n",
		"multi-line strings":   head + "nodes:\n  - name: a\n    vars:\n      q: \"one\n        two\"\n      p: plain\n        continued\n  - name: b\n",
		"tab":                  head + "nodes:\n  - name: a\n    vars: {x: \"a\tb\"}\n",
		"crlf":                 strings.ReplaceAll(head+"nodes:\n  - name: a\n  - name: b\n    port: 0\n", "\n", "\r\n"),
		"unclosed bracket":     head + "nodes:\n  - name: a\n    groups: [g, h\n  - name: b\n",
		"unclosed quote":       head + "nodes:\n  - name: \"a\n  - name: b\n",
		"bad indentation":      head + "nodes:\n  - name: a\n host: h\n  - name: b\n",
		"deeper item":          head + "nodes:\n  - name: a\n   - name: b\n",
		"nodes twice":          head + "nodes:\n  - name: a\nnodes:\n  - name: b\n",
		"nodes quoted twice":   head + "nodes:\n  - name: a\n\"nodes\":\n  - name: b\n",
		"empty nodes":          head + "nodes:\nloadBalancers: {}\n",
		"nodes a mapping":      head + "nodes:\n  a: {name: a}\n",
		"nodes inline":         head + "nodes: [{name: a}, {name: b, port: x}]\n",
		"second document":      head + "nodes:\n  - name: a\n---\nnodes: []\n",
		"document end":         head + "nodes:\n  - name: a\n...\n",
		"directive":            "%YAML 1.2\n---\n" + head + "nodes:\n  - name: a\n",
		"no nodes":             head + "vars: {}\n",
		"root a list":          "- nodes:\n  - name: a\n",
		"too deep": head + "nodes:\n  - name: a\n    vars:\n      x: " + strings.Repeat("[", 70) + strings.Repeat("]", 70) + "\n" +
			"  - name: b\n",
		"deep but allowed": head + "nodes:\n  - name: a\n    vars:\n      x: " + strings.Repeat("[", 59) + strings.Repeat("]", 59) + "\n",
		"item a scalar":    head + "nodes:\n  - a\n  -\n  - name: b\n",
		"explicit key":     head + "nodes:\n  - ? name\n    : a\n",
		"after the list":   head + "nodes:\n  - name: a\nloadBalancers:\n  lb: {driver: haproxy, backend: b, servers: {zz: s}, instances: [{name: i, socket: /s}]}\n",
	}
	for name, data := range cases {
		agree(t, name, data)
	}
	// Longer than a piece, with bad nodes in several pieces.
	var items []string
	for i := range 3*chunkItems + 17 {
		switch {
		case i%97 == 5:
			items = append(items, fmt.Sprintf("{name: n%d, port: %d}", i, 70000+i))
		case i%131 == 7:
			items = append(items, fmt.Sprintf("{name: n%d, hots: x}", i))
		default:
			items = append(items, fmt.Sprintf("{name: n%d, host: 10.0.%d.%d, groups: [g], vars: {i: %d}}", i, i/256, i%256, i))
		}
	}
	agree(t, "many nodes", inventoryAround(false, items...))
	agree(t, "many good nodes", inventoryAround(false, items[:5]...))
}

// TestQuickPathTaken: the usual layout is parsed in pieces and its nodes
// decoded by plainNode (else the tests above compare the generic way with
// itself).
func TestQuickPathTaken(t *testing.T) {
	data := inventoryAround(false, `{name: a, port: 22, user: u, transport: ssh, groups: [g], vars: {v: 1}, proxyJump: j, host: h}`)
	in, ok := parseInPieces("inv.yaml", []byte(data))
	if !ok {
		t.Fatal("the usual layout was not parsed in pieces")
	}
	for i, p := range in.plain {
		if !p {
			t.Errorf("node %d went the generic way", i)
		}
	}
	if len(in.checked) != 1 {
		t.Errorf("the schema is given %d stand-ins, want one for the whole list", len(in.checked))
	}
}

// TestNodeShapePinned fails when the inventory schema's node (or its nodes
// list) changes: plainNode checks by hand what the schema says, and must be
// changed with it. Then update the digest here.
func TestNodeShapePinned(t *testing.T) {
	raw, err := InventorySchema()
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Defs       map[string]json.RawMessage `json:"$defs"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, k := range []string{"node", "groupName", "port", "proxyJump", "transport", "user", "vars"} {
		b.WriteString(k + "=" + string(s.Defs[k]) + "\n")
	}
	b.WriteString("nodes=" + string(s.Properties["nodes"]) + "\n")
	const want = "6b3147876b871a7ff055e15840dc79792e8774ad6dbbbbe46a3ac42551346665"
	if got := fmt.Sprintf("%x", sha256.Sum256([]byte(b.String()))); got != want {
		t.Errorf("the inventory schema's node changed (digest %s): check plainNode (nodeshape.go) against it, then update the digest in this test", got)
	}
}

// TestNamePatterns holds groupName and varName to the schema's patterns.
func TestNamePatterns(t *testing.T) {
	group := regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
	variable := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	for _, s := range []string{"", "a", "A", "_", "9", "a.b", "a-b", ".a", "-a", "a b", "é", "a\n", "a$", "x9", "9x", "a_b.c-d", "a/b", "a..", "Z_9"} {
		if groupName(s) != group.MatchString(s) {
			t.Errorf("groupName(%q) = %v, the pattern says %v", s, groupName(s), group.MatchString(s))
		}
		if varName(s) != variable.MatchString(s) {
			t.Errorf("varName(%q) = %v, the pattern says %v", s, varName(s), variable.MatchString(s))
		}
	}
}

// FuzzInventoryQuickPath: on any input, the quick way and the generic way
// agree.
func FuzzInventoryQuickPath(f *testing.F) {
	for _, c := range nodeCases {
		f.Add(inventoryAround(false, c))
	}
	f.Fuzz(func(t *testing.T, data string) {
		if len(data) > 16<<10 {
			return
		}
		agree(t, "fuzz", data)
	})
}
