package load

import (
	"bytes"

	"gopkg.in/yaml.v3"

	"github.com/zdu-dev/zdu/engine/spec"
)

// source is a file's lines, to turn a position inside a scalar (an
// expression's line and column) into a position in the file.
type source struct {
	lines [][]byte
}

func newSource(data []byte) *source { return &source{lines: bytes.Split(data, []byte("\n"))} }

// inner maps (line, col), 1-based inside the scalar v's value, to the file.
func (s *source) inner(v *yaml.Node, line, col int) spec.Pos {
	return s.innerAt(spec.PosOf(v), v.Style, line, col)
}

// innerAt maps (line, col), 1-based inside a scalar of the given style that
// starts at at, to the file.
func (s *source) innerAt(at spec.Pos, style yaml.Style, line, col int) spec.Pos {
	if line < 1 {
		line = 1
	}
	if col < 1 {
		col = 1
	}
	switch style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// Block content starts on the line after the indicator, indented.
		l := at.Line + line
		return spec.Pos{Line: l, Col: s.indent(l) + col}
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		if line == 1 {
			return spec.Pos{Line: at.Line, Col: at.Col + col}
		}
	default:
		if line == 1 {
			return spec.Pos{Line: at.Line, Col: at.Col + col - 1}
		}
	}
	l := at.Line + line - 1
	return spec.Pos{Line: l, Col: s.indent(l) + col}
}

// indent is the number of leading spaces of a 1-based line.
func (s *source) indent(line int) int {
	if s == nil || line < 1 || line > len(s.lines) {
		return 0
	}
	n := 0
	for _, c := range s.lines[line-1] {
		if c != ' ' {
			break
		}
		n++
	}
	return n
}
