package dag

import (
	"strings"
	"testing"
)

// renderGraph has two clusters (one interleaved with a loose vertex, to show
// grouping is by first appearance), labels that need escaping and a vertex
// without a label.
func renderGraph(t *testing.T) *Graph {
	t.Helper()
	g := &Graph{}
	for _, x := range []Vertex{
		v{id: "start"},
		lv{v{id: "apply/A/stop", label: `stop "gw"`, cluster: "phase apply / node Node-A"}},
		lv{v{id: "apply/B/stop", label: `C:\dir` + "\nline2", cluster: "phase apply / node Node-B"}},
		lv{v{id: "apply/A/start", label: "a<b> & #1", cluster: "phase apply / node Node-A"}},
		lv{v{id: "end"}},
	} {
		if err := g.Add(x); err != nil {
			t.Fatal(err)
		}
	}
	for _, ed := range [][2]string{
		e("start", "apply/A/stop"), e("apply/A/stop", "apply/A/start"),
		e("apply/A/start", "apply/B/stop"), e("apply/B/stop", "end"),
	} {
		if err := g.Connect(ed[0], ed[1]); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

const wantDot = `digraph {
	compound = true;
	node [shape = box];
	subgraph cluster_0 {
		label = "phase apply / node Node-A";
		"apply/A/stop" [label = "stop \"gw\""];
		"apply/A/start" [label = "a<b> & #1"];
	}
	subgraph cluster_1 {
		label = "phase apply / node Node-B";
		"apply/B/stop" [label = "C:\\dir\nline2"];
	}
	"start";
	"end";
	"start" -> "apply/A/stop";
	"apply/A/stop" -> "apply/A/start";
	"apply/B/stop" -> "end";
	"apply/A/start" -> "apply/B/stop";
}
`

const wantMermaid = `flowchart TD
    subgraph c0["phase apply / node Node-A"]
        n1["stop #quot;gw#quot;"]
        n3["a#lt;b#gt; #amp; #35;1"]
    end
    subgraph c1["phase apply / node Node-B"]
        n2["C:\dir<br>line2"]
    end
    n0["start"]
    n4["end"]
    n0 --> n1
    n1 --> n3
    n2 --> n4
    n3 --> n2
`

func TestRender(t *testing.T) {
	tests := []struct {
		name   string
		render func(*Graph) string
		want   string
	}{
		{"dot", Dot, wantDot},
		{"mermaid", Mermaid, wantMermaid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.render(renderGraph(t))
			if got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
			if again := tt.render(renderGraph(t)); again != got {
				t.Error("rendering the same graph twice differed")
			}
		})
	}
}

func TestRenderEmpty(t *testing.T) {
	if got := Dot(&Graph{}); got != "digraph {\n\tcompound = true;\n\tnode [shape = box];\n}\n" {
		t.Errorf("Dot(empty) = %q", got)
	}
	if got := Mermaid(&Graph{}); got != "flowchart TD\n" {
		t.Errorf("Mermaid(empty) = %q", got)
	}
}

func TestQuoting(t *testing.T) {
	tests := []struct{ in, dot, mermaid string }{
		{`plain`, `"plain"`, `"plain"`},
		{`a"b`, `"a\"b"`, `"a#quot;b"`},
		{`back\slash`, `"back\\slash"`, `"back\slash"`},
		{"two\r\nlines", `"two\nlines"`, `"two<br>lines"`},
		{`]) --> x[`, `"]) --> x["`, `"]) --#gt; x["`},
	}
	for _, tt := range tests {
		if got := dotQuote(tt.in); got != tt.dot {
			t.Errorf("dotQuote(%q) = %s, want %s", tt.in, got, tt.dot)
		}
		if got := mermaidQuote(tt.in); got != tt.mermaid {
			t.Errorf("mermaidQuote(%q) = %s, want %s", tt.in, got, tt.mermaid)
		}
		// Whatever the input, the quoted form must not end early.
		if q := mermaidQuote(tt.in); strings.Count(q, `"`) != 2 {
			t.Errorf("mermaidQuote(%q) = %s leaks a quote", tt.in, q)
		}
	}
}
