package schema

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Positions maps the JSON pointers of a document's values (as the JSON Schema
// validator reports them, e.g. /phases/0/steps/2/with) back to the YAML nodes
// they came from, so any later check can name a line and column.
type Positions struct {
	entries map[string]entry
}

type entry struct {
	// key is the mapping key node of the value; nil for list items and the root.
	key *yaml.Node
	// value is the node as written (an alias stays an alias, so a problem with
	// the whole value points where the alias is used).
	value *yaml.Node
}

// Index builds the positions of every value of a document (a document node or
// its root). Problems in the document (duplicate keys, bad aliases) are ignored
// here; Validate reports them.
func Index(doc *yaml.Node) *Positions {
	c := newConverter("")
	c.convert(doc)
	return c.pos
}

// Lookup returns the key node (nil for list items and the root) and the value
// node at a JSON pointer.
func (p *Positions) Lookup(pointer string) (key, value *yaml.Node, ok bool) {
	e, ok := p.entries[pointer]
	return e.key, e.value, ok
}

// Path returns the human path of a JSON pointer: phases[0].steps[2].with.
// A list index reads [i] and a key .name, decided by what the parent value
// is in the document, so a mapping key "0" still reads .0 rather than [0].
func (p *Positions) Path(pointer string) string {
	path, prefix := "", ""
	for _, tok := range splitPointer(pointer) {
		parent := p.entries[prefix].value
		for depth := 0; parent != nil && parent.Kind == yaml.AliasNode && depth < 100; depth++ {
			parent = parent.Alias
		}
		if parent != nil && parent.Kind == yaml.SequenceNode {
			path += "[" + tok + "]"
		} else {
			path = joinKey(path, tok)
		}
		prefix += "/" + escapeToken(tok)
	}
	return path
}

// KeyPos returns the position of the value's key if it has one (where an
// unknown or badly named key is reported), else of the value.
func (p *Positions) KeyPos(pointer string) (line, col int) {
	e := p.nearest(pointer)
	if e.key != nil {
		return e.key.Line, e.key.Column
	}
	return nodePos(e.value)
}

// ValuePos returns the position of the value at pointer, or of the nearest
// enclosing value the document holds.
func (p *Positions) ValuePos(pointer string) (line, col int) {
	return nodePos(p.nearest(pointer).value)
}

// ObjectPos returns where a problem about a whole mapping goes, such as a
// missing key: its first key, so the message sits next to the keys it is
// about rather than on the parent's line.
func (p *Positions) ObjectPos(pointer string) (line, col int) {
	n := p.nearest(pointer).value
	if n != nil && n.Kind == yaml.MappingNode && len(n.Content) > 0 {
		return nodePos(n.Content[0])
	}
	return nodePos(n)
}

// nearest returns the entry at pointer or at its closest ancestor.
func (p *Positions) nearest(pointer string) entry {
	for {
		if e, ok := p.entries[pointer]; ok {
			return e
		}
		i := strings.LastIndexByte(pointer, '/')
		if i < 0 {
			return p.entries[""]
		}
		pointer = pointer[:i]
	}
}

func nodePos(n *yaml.Node) (int, int) {
	if n == nil || n.Line == 0 {
		return 1, 1
	}
	return n.Line, max(n.Column, 1)
}

// escapeToken escapes a key as one JSON pointer token, exactly as the
// validator does in its instance locations (RFC 6901, then URL path escaping).
func escapeToken(s string) string {
	s = strings.ReplaceAll(s, "~", "~0")
	s = strings.ReplaceAll(s, "/", "~1")
	return url.PathEscape(s)
}

// splitPointer returns the unescaped tokens of a pointer.
func splitPointer(pointer string) []string {
	if pointer == "" {
		return nil
	}
	toks := strings.Split(strings.TrimPrefix(pointer, "/"), "/")
	for i, t := range toks {
		if u, err := url.PathUnescape(t); err == nil {
			t = u
		}
		t = strings.ReplaceAll(t, "~1", "/")
		toks[i] = strings.ReplaceAll(t, "~0", "~")
	}
	return toks
}

var plainKeyRE = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$-]*$`)

// joinKey appends a mapping key to a human path: .name when it reads as a
// name, ["the key"] otherwise.
func joinKey(path, key string) string {
	if !plainKeyRE.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}
