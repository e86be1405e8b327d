package load

import (
	"bytes"

	"github.com/zdu-dev/zdu/engine/spec"
	"gopkg.in/yaml.v3"
)

// Most of what is left of loading a large inventory is yaml.v3 reading
// the nodes list: its scanner, its parser's events and a fresh 152-byte
// node for every value, a million of them for 100,000 nodes, garbage as
// soon as plainNode has decoded them. Inventories are mostly written (or
// generated) in a few plain forms, though:
//
//	- name: web-1
//	  host: 10.0.0.1
//	  groups: [web, eu]
//	  vars: {tier: front, weight: 3}
//	- {name: web-2, host: 10.0.0.2, port: 2222}
//
// itemScanner reads an item written in such a narrow subset of YAML into
// the very tree yaml.v3 would make of it (same kinds, styles, resolved
// tags, values, lines and columns), in nodes it reuses from item to item,
// and declines anything else: a comment, a multi-line value, a scalar
// whose type is not obvious from a glance (every number but a plain
// decimal integer, every word YAML 1.1 or 1.2 reads as a boolean or null,
// anything starting with an indicator), escapes, non-ASCII text. A piece
// with an item it declines is read by yaml.v3, as before.
// FuzzItemScannerMatchesYAML holds the two to the same tree.

// itemScanner reads list items; its nodes are valid until the next item.
type itemScanner struct {
	nodes []yaml.Node
	ptrs  []*yaml.Node
	// names interns keys and values met again and again (var names,
	// group names), so that each is one string for the whole inventory.
	names map[string]string
}

// scanArena bounds the YAML values of one item read this way.
const scanArena = 256

func newItemScanner() *itemScanner {
	return &itemScanner{
		nodes: make([]yaml.Node, 0, scanArena),
		ptrs:  make([]*yaml.Node, 0, scanArena),
		names: map[string]string{},
	}
}

// piece reads and decodes the items starting on lines items (0-based;
// the last one ends on line to) of data into nodes; false when one of them
// is not of the subset or not plainly valid (plainNode): yaml.v3 then
// reads the piece.
func (s *itemScanner) piece(nodes []spec.Node, data []byte, lineAt func(int) int, items []int, to, indent int) bool {
	for k, l := range items {
		end := to
		if k+1 < len(items) {
			end = items[k+1]
		}
		y, ok := s.item(data[lineAt(l):lineAt(end)], l, indent)
		if !ok {
			return false
		}
		if nodes[k], ok = plainNode(y); !ok {
			return false
		}
	}
	return true
}

// scanLine is one line of an item being read.
type scanLine struct {
	text []byte
	line int // 1-based, in the file
}

// item reads one item: lines holds the item's lines (the first one
// starting with "- " after indent spaces), the first being line of the
// file (0-based). Trailing blank lines are allowed.
func (s *itemScanner) item(text []byte, line, indent int) (*yaml.Node, bool) {
	s.nodes, s.ptrs = s.nodes[:0], s.ptrs[:0]
	if bytes.IndexByte(text, '#') >= 0 {
		return nil, false
	}
	for _, c := range text {
		if c >= 0x7f || c < ' ' && c != '\n' {
			return nil, false
		}
	}
	var lines []scanLine
	for l := line + 1; len(text) > 0; l++ {
		end := bytes.IndexByte(text, '\n')
		if end < 0 {
			end = len(text)
		}
		t := text[:end]
		if len(bytes.TrimRight(t, " ")) > 0 {
			if len(lines) > 0 && len(lines[len(lines)-1].text) == 0 {
				return nil, false // a blank line inside the item
			}
			lines = append(lines, scanLine{t, l})
		} else if len(lines) > 0 {
			lines = append(lines, scanLine{nil, l}) // trailing, or not
		}
		text = text[min(end+1, len(text)):]
	}
	for len(lines) > 0 && len(lines[len(lines)-1].text) == 0 {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return nil, false
	}
	first := lines[0].text
	if len(first) < indent+3 || !allSpaces(first[:indent]) || first[indent] != '-' || first[indent+1] != ' ' {
		return nil, false
	}
	col := indent + 2 // 0-based column of the item's content
	if first[col] == ' ' {
		return nil, false
	}
	if first[col] == '{' {
		// A flow mapping on the item's line, nothing after it.
		if len(lines) != 1 {
			return nil, false
		}
		r := &flowReader{s: s, text: first, at: col, line: lines[0].line}
		m, ok := r.collection(0, yaml.MappingNode)
		if !ok || !allSpaces(first[r.at:]) {
			return nil, false
		}
		return m, true
	}
	// A block mapping: one key a line, at the item's column.
	m := s.node()
	if m == nil {
		return nil, false
	}
	*m = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: lines[0].line, Column: col + 1}
	var buf [32]*yaml.Node
	kids := buf[:0]
	for i, l := range lines {
		t := l.text
		if i > 0 && (len(t) <= col || !allSpaces(t[:col]) || t[col] == ' ') {
			return nil, false
		}
		k, v, ok := s.blockEntry(t, col, l.line)
		if !ok {
			return nil, false
		}
		kids = append(kids, k, v)
	}
	return m, s.content(m, kids)
}

// blockEntry reads `key: value` starting at t[col]: the value is a flow
// collection, a quoted scalar or a plain one, the rest of the line.
func (s *itemScanner) blockEntry(t []byte, col, line int) (k, v *yaml.Node, ok bool) {
	r := &flowReader{s: s, text: t, at: col, line: line}
	if k, ok = r.key(); !ok {
		return nil, nil, false
	}
	rest := t[r.at:]
	switch rest[0] {
	case '[', '{', '"', '\'':
		if v, ok = r.value(0); !ok || !allSpaces(t[r.at:]) {
			return nil, nil, false
		}
		return k, v, true
	}
	val := bytes.TrimRight(rest, " ")
	if v = s.scalar(val, line, r.at+1); v == nil {
		return nil, nil, false
	}
	return k, v, true
}

// node takes a node from the arena; nil when it is used up.
func (s *itemScanner) node() *yaml.Node {
	if len(s.nodes) == cap(s.nodes) {
		return nil
	}
	s.nodes = s.nodes[:len(s.nodes)+1]
	return &s.nodes[len(s.nodes)-1]
}

// content makes kids the content of n, in the arena: a collection's
// children are put there together once all of them are read (theirs
// first, so each collection's are side by side).
func (s *itemScanner) content(n *yaml.Node, kids []*yaml.Node) bool {
	if len(s.ptrs)+len(kids) > cap(s.ptrs) {
		return false
	}
	if len(kids) == 0 {
		return true
	}
	start := len(s.ptrs)
	s.ptrs = append(s.ptrs, kids...)
	n.Content = s.ptrs[start:len(s.ptrs):len(s.ptrs)]
	return true
}

// scalar makes a plain scalar of text, or nil when its type is not obvious or its text is not of the subset.
func (s *itemScanner) scalar(text []byte, line, col int) *yaml.Node {
	tag := plainTag(text)
	if tag == "" {
		return nil
	}
	n := s.node()
	if n == nil {
		return nil
	}
	*n = yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: s.intern(text), Line: line, Column: col}
	return n
}

// quoted makes a quoted scalar of text, quotes included.
func (s *itemScanner) quoted(text []byte, line, col int) *yaml.Node {
	n := s.node()
	if n == nil {
		return nil
	}
	style := yaml.DoubleQuotedStyle
	if text[0] == '\'' {
		style = yaml.SingleQuotedStyle
	}
	*n = yaml.Node{Kind: yaml.ScalarNode, Style: style, Tag: "!!str", Value: s.intern(text[1 : len(text)-1]), Line: line, Column: col}
	return n
}

// intern returns b as a string, one string for all equal short ones.
func (s *itemScanner) intern(b []byte) string {
	if len(b) > 32 {
		return string(b)
	}
	if v, ok := s.names[string(b)]; ok {
		return v
	}
	if len(s.names) >= 4096 {
		return string(b)
	}
	v := string(b)
	s.names[v] = v
	return v
}

// plainTag is the tag yaml.v3 resolves a plain scalar to, for the texts
// where that is obvious: !!str for a word (letters, digits, _ . - / @,
// starting with a letter, _ or /, not a word YAML reads as a boolean or
// null in either of its versions) or a dotted address (digits and at
// least two dots), !!int for a decimal integer without leading zeros of
// up to 18 digits; "" for anything else.
func plainTag(t []byte) string {
	if len(t) == 0 {
		return ""
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' || c == '/' || c == '@') {
			return ""
		}
	}
	c := t[0]
	switch {
	case c >= '0' && c <= '9':
		dots := 0
		for _, c := range t {
			switch {
			case c == '.':
				dots++
			case c < '0' || c > '9':
				return ""
			}
		}
		switch {
		case dots >= 2 && t[len(t)-1] != '.' && !bytes.Contains(t, []byte("..")):
			return "!!str"
		case dots == 0 && len(t) <= 18 && (c != '0' || len(t) == 1):
			return "!!int"
		}
		return ""
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '/':
		if len(t) <= 5 && yamlWord(t) {
			return ""
		}
		return "!!str"
	}
	return ""
}

// yamlWord: a word that YAML 1.1 or 1.2 reads as a boolean or null.
func yamlWord(t []byte) bool {
	switch string(bytes.ToLower(t)) {
	case "y", "n", "yes", "no", "on", "off", "true", "false", "null":
		return true
	}
	return false
}

func allSpaces(b []byte) bool {
	for _, c := range b {
		if c != ' ' {
			return false
		}
	}
	return true
}

// flowReader reads flow collections, keys and scalars on one line.
type flowReader struct {
	s    *itemScanner
	text []byte
	at   int // 0-based byte offset in text (and column - 1)
	line int
}

func (r *flowReader) spaces() {
	for r.at < len(r.text) && r.text[r.at] == ' ' {
		r.at++
	}
}

// key reads a plain key and the ": " after it, leaving at on the value.
func (r *flowReader) key() (*yaml.Node, bool) {
	start := r.at
	for r.at < len(r.text) && r.text[r.at] != ':' && r.text[r.at] != ' ' && r.text[r.at] != ',' && r.text[r.at] != '}' {
		r.at++
	}
	if r.at+1 >= len(r.text) || r.text[r.at] != ':' || r.text[r.at+1] != ' ' || r.at-start > 128 {
		return nil, false // (YAML bounds an implicit key to 1024 characters)
	}
	k := r.s.scalar(r.text[start:r.at], r.line, start+1)
	if k == nil {
		return nil, false
	}
	r.at++
	r.spaces()
	if r.at >= len(r.text) {
		return nil, false
	}
	return k, true
}

// value reads a flow collection, a quoted scalar or a plain scalar ended
// by , ] } or the line's end, at nesting depth.
func (r *flowReader) value(depth int) (*yaml.Node, bool) {
	if r.at >= len(r.text) {
		return nil, false
	}
	switch r.text[r.at] {
	case '[':
		return r.collection(depth, yaml.SequenceNode)
	case '{':
		return r.collection(depth, yaml.MappingNode)
	case '"', '\'':
		q := r.text[r.at]
		end := bytes.IndexByte(r.text[r.at+1:], q)
		if end < 0 {
			return nil, false
		}
		body := r.text[r.at+1 : r.at+1+end]
		if q == '"' && bytes.IndexByte(body, '\\') >= 0 {
			return nil, false
		}
		start := r.at
		r.at += end + 2
		if r.at < len(r.text) && r.text[r.at] == q {
			return nil, false // '' or "" inside: an escape
		}
		n := r.s.quoted(r.text[start:r.at], r.line, start+1)
		return n, n != nil
	}
	start := r.at
	for r.at < len(r.text) && r.text[r.at] != ',' && r.text[r.at] != ']' && r.text[r.at] != '}' && r.text[r.at] != ' ' {
		r.at++
	}
	n := r.s.scalar(r.text[start:r.at], r.line, start+1)
	return n, n != nil
}

// collection reads a flow sequence [a, b, ...] or mapping {k: v, ...} (of
// plain keys), nested at most three deep.
func (r *flowReader) collection(depth int, kind yaml.Kind) (*yaml.Node, bool) {
	if depth > 3 {
		return nil, false
	}
	n := r.s.node()
	if n == nil {
		return nil, false
	}
	tag, end := "!!seq", byte(']')
	if kind == yaml.MappingNode {
		tag, end = "!!map", '}'
	}
	*n = yaml.Node{Kind: kind, Style: yaml.FlowStyle, Tag: tag, Line: r.line, Column: r.at + 1}
	r.at++
	var buf [16]*yaml.Node
	kids := buf[:0]
	r.spaces()
	if r.at < len(r.text) && r.text[r.at] == end {
		r.at++
		return n, true
	}
	for {
		if kind == yaml.MappingNode {
			k, ok := r.key()
			if !ok {
				return nil, false
			}
			kids = append(kids, k)
		}
		v, ok := r.value(depth + 1)
		if !ok {
			return nil, false
		}
		kids = append(kids, v)
		r.spaces()
		if r.at >= len(r.text) {
			return nil, false
		}
		if r.text[r.at] == end {
			r.at++
			return n, r.s.content(n, kids)
		}
		if r.text[r.at] != ',' || r.at+1 >= len(r.text) || r.text[r.at+1] != ' ' {
			return nil, false
		}
		r.at++
		r.spaces()
	}
}
