package load

import (
	"bytes"
	"errors"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/zdu-dev/zdu/engine/expr"
	"github.com/zdu-dev/zdu/engine/spec"
)

// source is a file's lines, to turn a position inside a scalar's value (an
// expression's line and column) into a position in the file.
type source struct {
	lines [][]byte
}

func newSource(data []byte) *source { return &source{lines: bytes.Split(data, []byte("\n"))} }

// scalar is a string value as the file holds it: its decoded text, where the
// scalar starts and its YAML style (plain, quoted, block).
type scalar struct {
	text  string
	at    spec.Pos
	style yaml.Style
}

func scalarOf(n *yaml.Node) scalar {
	return scalar{text: n.Value, at: spec.PosOf(n), style: n.Style}
}

func scalarOfValue(v spec.Value[string]) scalar {
	return scalar{text: v.V, at: v.Pos, style: v.Style}
}

// inner maps (line, col), 1-based inside the scalar's decoded text as expr
// reports them, to the file. YAML changes text on the way in (quotes and
// their escapes, folded line breaks, a block's indentation), so the decoded
// text is walked alongside the file's characters: equal characters are the
// same character; what only the file has (a quote, an escape's backslash,
// indentation, a folded line break) is skipped; what only the decoded text
// has (the space a folded line break became) stays at the file's place.
func (s *source) inner(v scalar, line, col int) spec.Pos {
	target := offsetOf(v.text, line, col)
	w := s.walker(v)
	i := 0
	for _, dc := range v.text {
		if i == target {
			break
		}
		w.consume(dc)
		i++
	}
	w.skipLayout()
	return spec.Pos{Line: w.line, Col: w.col}
}

// offsetOf turns a 1-based line and column of text into a rune offset.
func offsetOf(text string, line, col int) int {
	l, c, i := 1, 1, 0
	for _, r := range text {
		if l > line || (l == line && c >= col) {
			return i
		}
		if r == '\n' {
			l, c = l+1, 1
		} else {
			c++
		}
		i++
	}
	return i
}

// sourceWalker steps through a scalar's characters in the file.
type sourceWalker struct {
	s         *source
	line, col int // 1-based, col in characters
	quoted    byte
}

func (s *source) walker(v scalar) *sourceWalker {
	w := &sourceWalker{s: s, line: v.at.Line, col: v.at.Col}
	switch v.style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// Content starts on the line after the indicator.
		w.line, w.col = v.at.Line+1, 1
	case yaml.DoubleQuotedStyle:
		w.quoted = '"'
		w.next()
	case yaml.SingleQuotedStyle:
		w.quoted = '\''
		w.next()
	}
	return w
}

// peek returns the character at the walker ('\n' at a line's end, 0 past
// the file's end) and its width in bytes.
func (w *sourceWalker) peek() (rune, int) {
	if w.line < 1 || w.line > len(w.s.lines) {
		return 0, 0
	}
	b := w.s.lines[w.line-1]
	off := byteOffset(b, w.col)
	if off >= len(b) {
		return '\n', 0
	}
	r, n := utf8.DecodeRune(b[off:])
	return r, n
}

func (w *sourceWalker) next() {
	if r, _ := w.peek(); r == '\n' {
		w.line, w.col = w.line+1, 1
		return
	}
	w.col++
}

// skipLayout moves past what the file holds but the decoded text does not
// start with here: indentation and line breaks.
func (w *sourceWalker) skipLayout() {
	for {
		r, _ := w.peek()
		if r != ' ' && r != '\t' && r != '\n' {
			return
		}
		w.next()
	}
}

// consume moves past the file's form of the decoded character dc.
func (w *sourceWalker) consume(dc rune) {
	for steps := 0; steps < 1<<16; steps++ {
		r, _ := w.peek()
		switch {
		case r == 0:
			return
		case w.quoted == '"' && r == '\\':
			w.escape()
			return
		case r == dc:
			w.next()
			if w.quoted == '\'' && r == '\'' {
				w.next() // '' is one quote
			}
			return
		case r == ' ' || r == '\t' || r == '\n':
			w.next() // indentation, or a line break the decoded text folded
		default:
			return // dc is not in the file here (a folded line break's space)
		}
	}
}

// escape moves past one backslash escape of a double-quoted scalar.
func (w *sourceWalker) escape() {
	w.next()
	r, _ := w.peek()
	n := 1
	switch r {
	case 'x':
		n = 3
	case 'u':
		n = 5
	case 'U':
		n = 9
	case '\n':
		w.next()
		w.skipLayout()
		return
	}
	for range n {
		w.next()
	}
}

// byteOffset is the byte offset of 1-based character column col in b.
func byteOffset(b []byte, col int) int {
	off := 0
	for c := 1; c < col && off < len(b); c++ {
		_, n := utf8.DecodeRune(b[off:])
		off += n
	}
	return off
}

// problem records err, from compiling an expression in v, at its place in
// the file.
func (s *source) problem(probs *Problems, v scalar, path string, err error) {
	var ee *expr.Error
	if errors.As(err, &ee) {
		probs.At(s.inner(v, ee.Line, ee.Col), path, "%s", ee.Msg)
		return
	}
	probs.At(v.at, path, "%v", err)
}

// uses places what an expression in v reads in the file.
func (s *source) uses(v scalar, path string, refs []expr.Ref) []use {
	out := make([]use, len(refs))
	for i, r := range refs {
		out[i] = use{Ref: r, Pos: s.inner(v, r.Line, r.Col), Path: path}
	}
	return out
}

// name is where a name written as v starts in the file (past a quote).
func (s *source) name(v scalar) spec.Pos { return s.inner(v, 1, 1) }
