package dag

import (
	"strconv"
	"strings"
)

// Renderings for `zdu graph --format dot|mermaid`. Both list clusters in the
// order their first vertex was inserted, vertices in insertion order and
// edges by (from, to) insertion order, so the output is byte-for-byte
// stable and can be kept as a golden file.

// Dot renders g in Graphviz DOT. Vertices are named by their quoted ID and
// shown by their Label when they have one; vertices sharing a Cluster are
// grouped in "subgraph cluster_N" (N counts clusters from 0 in order of
// appearance), labelled with the cluster name.
func Dot(g *Graph) string {
	var b strings.Builder
	b.WriteString("digraph {\n\tcompound = true;\n\tnode [shape = box];\n")
	names, members, loose := clusters(g)
	for k, name := range names {
		b.WriteString("\tsubgraph cluster_" + strconv.Itoa(k) + " {\n")
		b.WriteString("\t\tlabel = " + dotQuote(name) + ";\n")
		for _, i := range members[k] {
			b.WriteString("\t\t" + dotVertex(g.verts[i]) + ";\n")
		}
		b.WriteString("\t}\n")
	}
	for _, i := range loose {
		b.WriteString("\t" + dotVertex(g.verts[i]) + ";\n")
	}
	for i, v := range g.verts {
		for _, d := range g.down[i] {
			b.WriteString("\t" + dotQuote(v.ID()) + " -> " + dotQuote(g.verts[d].ID()) + ";\n")
		}
	}
	b.WriteString("}\n")
	return b.String()
}

func dotVertex(v Vertex) string {
	s := dotQuote(v.ID())
	if l, ok := v.(Labeler); ok && l.Label() != "" {
		s += " [label = " + dotQuote(l.Label()) + "]"
	}
	return s
}

// dotQuote makes s a DOT double-quoted string. Only '"' and '\' need
// escaping there; a newline becomes DOT's centred line break "\n".
func dotQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Mermaid renders g as a Mermaid flowchart (top-down). Mermaid node IDs
// cannot hold arbitrary text, so vertex i (in insertion order) is "n<i>" and
// cluster k is "c<k>"; the real ID or Label is the quoted text shown.
func Mermaid(g *Graph) string {
	var b strings.Builder
	b.WriteString("flowchart TD\n")
	names, members, loose := clusters(g)
	for k, name := range names {
		b.WriteString("    subgraph c" + strconv.Itoa(k) + "[" + mermaidQuote(name) + "]\n")
		for _, i := range members[k] {
			b.WriteString("        " + mermaidVertex(g, i) + "\n")
		}
		b.WriteString("    end\n")
	}
	for _, i := range loose {
		b.WriteString("    " + mermaidVertex(g, i) + "\n")
	}
	for i := range g.verts {
		for _, d := range g.down[i] {
			b.WriteString("    n" + strconv.Itoa(i) + " --> n" + strconv.Itoa(d) + "\n")
		}
	}
	return b.String()
}

func mermaidVertex(g *Graph, i int) string {
	v := g.verts[i]
	text := v.ID()
	if l, ok := v.(Labeler); ok && l.Label() != "" {
		text = l.Label()
	}
	return "n" + strconv.Itoa(i) + "[" + mermaidQuote(text) + "]"
}

// mermaidQuote makes s a Mermaid quoted label. Mermaid has no backslash
// escapes; characters that would end the string or be read as markup are
// written as its "#name;" entity codes.
func mermaidQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString("#quot;")
		case '#':
			b.WriteString("#35;")
		case '<':
			b.WriteString("#lt;")
		case '>':
			b.WriteString("#gt;")
		case '&':
			b.WriteString("#amp;")
		case '\n':
			b.WriteString("<br>")
		case '\r':
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// clusters groups vertex indices by Cluster name in order of first
// appearance; loose holds the vertices without a cluster.
func clusters(g *Graph) (names []string, members [][]int, loose []int) {
	pos := map[string]int{}
	for i, v := range g.verts {
		c, ok := v.(Clusterer)
		if !ok || c.Cluster() == "" {
			loose = append(loose, i)
			continue
		}
		k, seen := pos[c.Cluster()]
		if !seen {
			k = len(names)
			pos[c.Cluster()] = k
			names = append(names, c.Cluster())
			members = append(members, nil)
		}
		members[k] = append(members[k], i)
	}
	return names, members, loose
}
