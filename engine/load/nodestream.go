package load

import (
	"bytes"
	"errors"
	"io"
	"slices"

	"github.com/zdu-dev/zdu/engine/spec"
	"github.com/zdu-dev/zdu/schema"
	"gopkg.in/yaml.v3"
)

// The YAML tree of an inventory is about 2.3 KB a node (yaml.v3 keeps
// every value as a 152-byte node): 230 MB for 100,000 nodes, held whole
// before anything else can start, and Go's collector lets the heap grow to
// twice what is live. So an inventory whose nodes list is written in the
// usual block layout is parsed in pieces of a few hundred nodes: each
// piece is parsed, each of its nodes checked and decoded (plainNode), and
// only the nodes that must go the generic way keep their YAML. The rest of
// the file is parsed with the list's lines left blank, so every other
// value keeps its line and column, and the list is put back in place.
//
// The pieces give the same tree as the whole file, or the file is parsed
// whole: the list is cut only at lines that start an item at the list's
// indentation, every other line of it must be indented further (or be a
// comment or blank), and anything that could tie one item to another or
// change how a line reads (an anchor or alias, a tab, a directive, a
// document marker, a carriage return) sends the file the usual way, as
// does any piece that does not parse as exactly its items. A problem in
// the file is always reported by the whole parse.

// chunkItems is how many nodes are parsed at once.
const chunkItems = 256

// inventoryYAML is an inventory's parsed document with its nodes decoded
// where they are plainly valid: when plain[i], nodes[i] is item i and
// checked maps its YAML (or the whole list) to the schema's stand-in.
type inventoryYAML struct {
	doc     *yaml.Node
	nodes   []spec.Node
	plain   []bool
	checked map[*yaml.Node]any
}

// parseInventoryYAML parses an inventory in pieces when it can, else whole.
func parseInventoryYAML(file string, data []byte) (inventoryYAML, []schema.Problem) {
	if in, ok := parseInPieces(file, data); ok {
		return in, nil
	}
	doc, ps := schema.Decode(file, data)
	if len(ps) > 0 {
		return inventoryYAML{}, ps
	}
	in := inventoryYAML{doc: doc}
	in.nodes, in.plain, in.checked = plainNodes(doc)
	return in, nil
}

// nodesBlock is where the nodes list is: the line of its key, the lines
// that start its items, and the line after it (0-based line numbers).
type nodesBlock struct {
	key, end int
	items    []int
	indent   int // of the items' "- "
}

// parseInPieces is the piecewise parse; ok is false when the file must be
// parsed whole.
func parseInPieces(file string, data []byte) (in inventoryYAML, ok bool) {
	defer func() {
		if recover() != nil { // yaml.v3 should not panic; the whole parse says what it found
			ok = false
		}
	}()
	if !plainLayout(data) {
		return in, false
	}
	starts := lineStarts(data)
	b, ok := findNodesBlock(data, starts)
	if !ok {
		return in, false
	}
	lineAt := func(l int) int {
		if l < len(starts) {
			return starts[l]
		}
		return len(data)
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: b.items[0] + 1, Column: b.indent + 1}
	seq.Content = make([]*yaml.Node, 0, len(b.items))
	in.nodes = make([]spec.Node, len(b.items))
	in.plain = make([]bool, len(b.items))
	sc := newItemScanner()
	for first := 0; first < len(b.items); first += chunkItems {
		last := min(first+chunkItems, len(b.items))
		from, to := b.items[first], b.end
		if last < len(b.items) {
			to = b.items[last]
		}
		// Items read without yaml.v3 are decoded already; in their place
		// the list keeps an empty mapping, for the schema to pass over.
		if sc.piece(in.nodes[first:last], data, lineAt, b.items[first:last], to, b.indent) {
			shells := make([]yaml.Node, last-first)
			for k := range shells {
				shells[k] = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: in.nodes[first+k].Pos.Line, Column: in.nodes[first+k].Pos.Col}
				seq.Content = append(seq.Content, &shells[k])
				in.plain[first+k] = true
			}
			continue
		}
		items, pos, ok := parsePiece(data[lineAt(from):lineAt(to)], last-first, from)
		if !ok || first == 0 && (pos.Line != seq.Line || pos.Col != seq.Column) {
			return in, false
		}
		for k, item := range items {
			i := first + k
			if nestDepth(item)+2 > schema.MaxDepth {
				return in, false
			}
			if in.nodes[i], in.plain[i] = plainNode(item); !in.plain[i] {
				seq.Content = append(seq.Content, item)
				continue
			}
			shell := &yaml.Node{Kind: item.Kind, Style: item.Style, Tag: item.Tag, Line: item.Line, Column: item.Column}
			seq.Content = append(seq.Content, shell)
		}
	}
	in.checked = map[*yaml.Node]any{seq: []any{nodeStandIn}} // see plainNodes
	if slices.Contains(in.plain, false) {
		in.checked = make(map[*yaml.Node]any)
		for i, item := range seq.Content {
			if in.plain[i] {
				in.checked[item] = nodeStandIn
			}
		}
	}
	// The rest of the file, the list's lines blank.
	rest := make([]byte, 0, len(data)-(lineAt(b.end)-lineAt(b.key+1))+(b.end-b.key-1))
	rest = append(rest, data[:lineAt(b.key+1)]...)
	rest = append(rest, bytes.Repeat([]byte("\n"), b.end-b.key-1)...)
	rest = append(rest, data[lineAt(b.end):]...)
	doc, ps := schema.Decode(file, rest)
	if len(ps) > 0 || doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return in, false
	}
	root, found := doc.Content[0], 0
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k := root.Content[i]; k.Kind == yaml.ScalarNode && k.Value == "nodes" {
			found++
			v := root.Content[i+1]
			if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!null" || k.Line != b.key+1 {
				return in, false
			}
			root.Content[i+1] = seq
		}
	}
	if found != 1 {
		return in, false
	}
	in.doc = doc
	return in, true
}

// plainLayout rules out what could make a piece read differently from
// the whole file: anchors and aliases (an & or * where a value may
// start), tabs, carriage returns, a byte order mark, directives and
// document markers.
func plainLayout(data []byte) bool {
	if bytes.ContainsAny(data, "\t\r") || bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		return false
	}
	for i, c := range data {
		switch c {
		case '&', '*':
			if i == 0 || bytes.IndexByte([]byte(" [{,:-\n"), data[i-1]) >= 0 {
				return false
			}
		case '%':
			if i == 0 || data[i-1] == '\n' {
				return false
			}
		case '-', '.':
			if (i == 0 || data[i-1] == '\n') && i+3 <= len(data) && (string(data[i:i+3]) == "---" || string(data[i:i+3]) == "...") {
				return false
			}
		}
	}
	return true
}

func lineStarts(data []byte) []int {
	starts := make([]int, 0, bytes.Count(data, []byte("\n"))+1)
	for at := 0; at < len(data); {
		starts = append(starts, at)
		i := bytes.IndexByte(data[at:], '\n')
		if i < 0 {
			break
		}
		at += i + 1
	}
	return starts
}

// findNodesBlock finds the nodes list in block layout: a line `nodes:`
// (nothing after it but a comment) in the root mapping, then items, each
// starting with "- " at one indentation, every other line of theirs
// indented further, up to the next line of the root mapping.
func findNodesBlock(data []byte, starts []int) (b nodesBlock, ok bool) {
	line := func(l int) []byte {
		end := len(data)
		if l+1 < len(starts) {
			end = starts[l+1] - 1
		}
		return data[starts[l]:end]
	}
	b.key = -1
	for l := range starts {
		text := line(l)
		if !bytes.HasPrefix(text, []byte("nodes:")) {
			continue
		}
		after := bytes.TrimLeft(text[len("nodes:"):], " ")
		if len(after) > 0 && after[0] != '#' || b.key >= 0 {
			return b, false // a value on the key's line, or the key twice
		}
		b.key = l
	}
	if b.key < 0 {
		return b, false
	}
	indent := -1
	b.end = len(starts)
	for l := b.key + 1; l < len(starts); l++ {
		text := line(l)
		trimmed := bytes.TrimLeft(text, " ")
		if len(trimmed) == 0 || trimmed[0] == '#' {
			continue
		}
		ind := len(text) - len(trimmed)
		isItem := trimmed[0] == '-' && (len(trimmed) == 1 || trimmed[1] == ' ')
		if ind == 0 && !isItem {
			b.end = l // the next key of the root mapping
			break
		}
		if indent < 0 {
			if !isItem {
				return b, false
			}
			indent = ind
			b.indent = ind
		}
		switch {
		case ind < indent:
			return b, false
		case ind == indent && !isItem:
			return b, false
		case ind == indent:
			b.items = append(b.items, l)
		}
	}
	return b, len(b.items) > 0
}

// parsePiece parses the text of n items of the list, which starts on line
// from (0-based) of the file, and returns them with the lines they have
// in the file, and where the piece's list starts.
func parsePiece(text []byte, n, from int) ([]*yaml.Node, spec.Pos, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(text))
	var d, second yaml.Node
	if err := dec.Decode(&d); err != nil {
		return nil, spec.Pos{}, false
	}
	if err := dec.Decode(&second); !errors.Is(err, io.EOF) {
		return nil, spec.Pos{}, false
	}
	if d.Kind != yaml.DocumentNode || len(d.Content) != 1 {
		return nil, spec.Pos{}, false
	}
	list := d.Content[0]
	if list.Kind != yaml.SequenceNode || list.Style != 0 || len(list.Content) != n {
		return nil, spec.Pos{}, false
	}
	for _, item := range list.Content {
		shiftLines(item, from)
	}
	return list.Content, spec.Pos{Line: list.Line + from, Col: list.Column}, true
}

func shiftLines(n *yaml.Node, by int) {
	n.Line += by
	for _, c := range n.Content {
		shiftLines(c, by)
	}
}

// nestDepth is how many mappings and lists nest in n, n included (as
// schema.Decode counts them; no aliases here).
func nestDepth(n *yaml.Node) int {
	d := 0
	for _, c := range n.Content {
		d = max(d, nestDepth(c))
	}
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		d++
	}
	return d
}
