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
	// runeOffs holds, for a line with multi-byte characters, the byte offset
	// of each of its characters, built the first time the line is read
	// (ASCII lines need none: a column is a byte offset there). Counting
	// characters from the line's start at every step made a long line
	// quadratic.
	runeOffs map[int][]int32
}

func newSource(data []byte) *source { return &source{lines: bytes.Split(data, []byte("\n"))} }

// byteOffset is the byte offset of 1-based character column col in line
// (1-based), or len(line) past its end.
func (s *source) byteOffset(line, col int) int {
	b := s.lines[line-1]
	if col <= 1 {
		return 0
	}
	offs, known := s.runeOffs[line]
	if !known {
		if isASCII(b) {
			offs = nil
		} else {
			offs = make([]int32, 0, len(b))
			for i := range string(b) {
				offs = append(offs, int32(i))
			}
		}
		if s.runeOffs == nil {
			s.runeOffs = map[int][]int32{}
		}
		s.runeOffs[line] = offs
	}
	if offs == nil {
		return min(col-1, len(b))
	}
	if col-1 >= len(offs) {
		return len(b)
	}
	return int(offs[col-1])
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

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
	return s.places(v, [][2]int{{line, col}})[0]
}

// places maps several (line, col) of one scalar, as inner does, in one walk
// through the scalar when they come in order (an expression's references
// do): placing each from the scalar's start made a long template with many
// expressions quadratic.
func (s *source) places(v scalar, at [][2]int) []spec.Pos {
	out := make([]spec.Pos, len(at))
	var (
		w    *sourceWalker
		text string // what of v.text the walker has not consumed
		l, c int    // the line and column in v.text of text's start
	)
	for k, lc := range at {
		line, col := lc[0], lc[1]
		if w == nil || l > line || (l == line && c > col) {
			w, text, l, c = s.walker(v), v.text, 1, 1
		}
		for text != "" && (l < line || (l == line && c < col)) {
			dc, n := utf8.DecodeRuneInString(text)
			w.consume(dc)
			text = text[n:]
			if dc == '\n' {
				l, c = l+1, 1
			} else {
				c++
			}
		}
		end := *w
		end.skipLayout()
		out[k] = spec.Pos{Line: end.line, Col: end.col}
	}
	return out
}

// sourceWalker steps through a scalar's characters in the file.
type sourceWalker struct {
	s         *source
	line, col int // 1-based, col in characters
	off       int // byte offset of col in the line
	quoted    byte
}

func (s *source) walker(v scalar) *sourceWalker {
	w := &sourceWalker{s: s}
	switch v.style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// Content starts on the line after the indicator.
		w.moveTo(v.at.Line+1, 1)
	default:
		w.moveTo(v.at.Line, v.at.Col)
	}
	switch v.style {
	case yaml.DoubleQuotedStyle:
		w.quoted = '"'
		w.next()
	case yaml.SingleQuotedStyle:
		w.quoted = '\''
		w.next()
	}
	return w
}

func (w *sourceWalker) moveTo(line, col int) {
	w.line, w.col, w.off = line, col, 0
	if line >= 1 && line <= len(w.s.lines) {
		w.off = w.s.byteOffset(line, col)
	}
}

// peek returns the character at the walker ('\n' at a line's end, 0 past
// the file's end) and its width in bytes.
func (w *sourceWalker) peek() (rune, int) {
	if w.line < 1 || w.line > len(w.s.lines) {
		return 0, 0
	}
	b := w.s.lines[w.line-1]
	if w.off >= len(b) {
		return '\n', 0
	}
	r, n := utf8.DecodeRune(b[w.off:])
	return r, n
}

func (w *sourceWalker) next() {
	r, n := w.peek()
	if r == '\n' {
		w.line, w.col, w.off = w.line+1, 1, 0
		return
	}
	w.col++
	w.off += n
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

// problem records err, from compiling an expression in v against sc, at its
// place in the file.
func (s *source) problem(probs *Problems, sc expr.Scope, v scalar, path string, err error) {
	// What its did-you-mean may have looked at: the scope's names.
	probs.spend(len(sc.Params) + len(sc.Results) + len(sc.Vars))
	var ee *expr.Error
	if errors.As(err, &ee) {
		probs.At(s.inner(v, ee.Line, ee.Col), path, "%s", ee.Msg)
		return
	}
	probs.At(v.at, path, "%v", err)
}

// uses places what an expression in v reads in the file.
func (s *source) uses(v scalar, path string, refs []expr.Ref) []use {
	at := make([][2]int, len(refs))
	for i, r := range refs {
		at[i] = [2]int{r.Line, r.Col}
	}
	pos := s.places(v, at)
	out := make([]use, len(refs))
	for i, r := range refs {
		out[i] = use{Ref: r, Pos: pos[i], Path: path}
	}
	return out
}

// name is where a name written as v starts in the file (past a quote).
func (s *source) name(v scalar) spec.Pos { return s.inner(v, 1, 1) }
