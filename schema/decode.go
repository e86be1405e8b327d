package schema

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Decode parses one YAML document, keeping every node's position. It returns
// the document node, or nil and the problems that make the file unreadable: a
// syntax error (at the line to edit), an empty file, or a second document.
func Decode(file string, data []byte) (doc *yaml.Node, problems []Problem) {
	defer func() {
		// yaml.v3 is not supposed to panic on any input; if it does, the
		// operator still deserves a file name rather than a stack trace.
		if r := recover(); r != nil {
			doc = nil
			problems = []Problem{{File: file, Line: 1, Col: 1, Msg: fmt.Sprintf("cannot parse YAML: %v", r)}}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var first yaml.Node
	if err := dec.Decode(&first); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, []Problem{{File: file, Line: 1, Col: 1, Msg: "the document is empty"}}
		}
		return nil, []Problem{syntaxProblem(file, data, err)}
	}
	if isEmptyDocument(&first) {
		return nil, []Problem{{File: file, Line: 1, Col: 1, Msg: "the document is empty"}}
	}
	if deep := tooDeep(&first); deep != nil {
		line, col := nodePos(deep)
		return nil, []Problem{{File: file, Line: line, Col: col,
			Msg: fmt.Sprintf("mappings and lists nest more than %d deep here; a plan or an inventory needs far fewer levels", MaxDepth)}}
	}
	var second yaml.Node
	switch err := dec.Decode(&second); {
	case err == nil:
		line := max(second.Line, 1)
		return nil, []Problem{{File: file, Line: line, Col: 1,
			Msg: "a second YAML document starts here; a file holds exactly one (remove the --- line or split the file)"}}
	case !errors.Is(err, io.EOF):
		return nil, []Problem{syntaxProblem(file, data, err)}
	}
	return &first, nil
}

// MaxDepth bounds how deeply mappings and lists nest in a plan or an
// inventory (the deepest shipped plan needs 7 levels). yaml.v3 itself stops
// at 10,000; every later stage walks the tree, so it is bounded here, once,
// with a position.
const MaxDepth = 64

// tooDeep returns the first node (in document order) nested more than
// MaxDepth deep, or nil. Aliases are not followed: what they add is bounded
// when the document is converted (maxAliased).
func tooDeep(doc *yaml.Node) *yaml.Node {
	type item struct {
		n     *yaml.Node
		depth int
	}
	stack := []item{{doc, 0}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		depth := it.depth
		if it.n.Kind == yaml.MappingNode || it.n.Kind == yaml.SequenceNode {
			if depth++; depth > MaxDepth {
				return it.n
			}
		}
		for i := len(it.n.Content) - 1; i >= 0; i-- {
			stack = append(stack, item{it.n.Content[i], depth})
		}
	}
	return nil
}

// isEmptyDocument reports a document holding nothing but an implicit null,
// as in a file that is only "---" or comments.
func isEmptyDocument(doc *yaml.Node) bool {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return true
	}
	root := doc.Content[0]
	return root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" && root.Value == ""
}

var (
	yamlLineRE   = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	yamlAnchorRE = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)
)

// syntaxProblem turns a yaml.v3 error into a positioned problem. yaml.v3 only
// reports a line, and for parser errors that line is where the enclosing
// construct started, sometimes off by one; so the problem is placed at the
// first line whose prefix of the file already fails with the same message,
// which is the line holding the offending token.
func syntaxProblem(file string, data []byte, err error) Problem {
	text := err.Error()
	if m := yamlAnchorRE.FindStringSubmatch(text); m != nil {
		line, col := findAlias(data, m[1])
		return Problem{File: file, Line: line, Col: col, Msg: fmt.Sprintf("unknown anchor %q: no &%s is defined before this alias", m[1], m[1])}
	}
	reported, msg := 1, strings.TrimPrefix(text, "yaml: ")
	if m := yamlLineRE.FindStringSubmatch(text); m != nil {
		reported, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	line := firstFailingLine(lines, reported, msg)
	col, hint := columnOnLine(lines, line, msg)
	return Problem{File: file, Line: line, Col: col, Msg: "YAML syntax error: " + msg + hint}
}

// firstFailingLine looks, from the reported line onward, for the shortest
// prefix of the file that fails to parse with msg. The search is bounded: at
// most 64 lines on, and at most about four times the file's size parsed in
// all, so a syntax error at the end of a large file costs a few parses, not
// dozens.
func firstFailingLine(lines [][]byte, reported int, msg string) int {
	const lookahead = 64
	start := max(reported, 1)
	var prefix []byte
	size := 0
	for _, l := range lines {
		size += len(l)
	}
	budget := 4*size + 64<<10
	for _, l := range lines[:min(start-1, len(lines))] {
		prefix = append(prefix, l...)
	}
	for n := start; n <= len(lines) && n < start+lookahead; n++ {
		prefix = append(prefix, lines[n-1]...)
		if budget -= len(prefix); budget < 0 {
			break
		}
		if parseMessage(prefix) == msg {
			return n
		}
	}
	return min(start, max(len(lines), 1))
}

// parseMessage returns the message (without position) of the error parsing
// data fails with, or "" when it parses.
func parseMessage(data []byte) (msg string) {
	defer func() {
		if recover() != nil {
			msg = ""
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			return ""
		}
		text := err.Error()
		if m := yamlLineRE.FindStringSubmatch(text); m != nil {
			return m[2]
		}
		return strings.TrimPrefix(text, "yaml: ")
	}
}

// columnOnLine places a syntax error on its line and adds a hint where
// yaml.v3's words alone leave the operator guessing: the tab used as
// indentation, the bracket or quote never closed, the line indented wrongly.
func columnOnLine(lines [][]byte, line int, msg string) (col int, hint string) {
	if line < 1 || line > len(lines) {
		return 1, ""
	}
	text := strings.TrimRight(string(lines[line-1]), "\r\n")
	indent := text[:len(text)-len(strings.TrimLeft(text, " \t"))]
	runeCol := func(i int) int { return utf8.RuneCountInString(text[:i]) + 1 }
	switch {
	case strings.Contains(indent, "\t") || (strings.Contains(msg, "tab") && strings.Contains(text, "\t")):
		return runeCol(strings.IndexByte(text, '\t')), " (indent with spaces: YAML does not allow tabs here)"
	case strings.Contains(msg, "',' or ']'"):
		if i := unclosed(text, '[', ']'); i >= 0 {
			return runeCol(i), " (this [ is never closed)"
		}
	case strings.Contains(msg, "',' or '}'"):
		if i := unclosed(text, '{', '}'); i >= 0 {
			return runeCol(i), " (this { is never closed)"
		}
	case strings.Contains(msg, "unexpected end of stream"):
		if i := strings.IndexAny(text, "\"'"); i >= 0 {
			return runeCol(i), " (this quoted string is never closed)"
		}
	case strings.Contains(msg, "did not find expected key"), strings.Contains(msg, "did not find expected '-' indicator"),
		strings.Contains(msg, "mapping values are not allowed"):
		return runeCol(len(indent)), " (check this line's indentation)"
	}
	return runeCol(len(indent)), ""
}

// unclosed returns the byte offset of the last opening bracket on the line
// that the line does not close, skipping quoted text, or -1.
func unclosed(text string, open, close byte) int {
	var stack []int
	var quote byte
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || text[i-1] == ' '):
			i = len(text)
		case c == open:
			stack = append(stack, i)
		case c == close && len(stack) > 0:
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) == 0 {
		return -1
	}
	return stack[len(stack)-1]
}

// findAlias returns the position of the first use of *name, or 1:1.
func findAlias(data []byte, name string) (int, int) {
	for i, l := range bytes.SplitAfter(data, []byte("\n")) {
		line := string(l)
		for from := 0; ; {
			j := strings.Index(line[from:], "*"+name)
			if j < 0 {
				break
			}
			at := from + j
			end := at + 1 + len(name)
			if end == len(line) || strings.ContainsRune(" \t\r\n,]}", rune(line[end])) {
				return i + 1, utf8.RuneCountInString(line[:at]) + 1
			}
			from = end
		}
	}
	return 1, 1
}
