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
func (s *source) inner(k, v *yaml.Node, line, col int) spec.Pos {
	if line < 1 {
		line = 1
	}
	if col < 1 {
		col = 1
	}
	switch v.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// Block content starts on the line after the indicator, indented.
		l := v.Line + line
		return spec.Pos{Line: l, Col: s.indent(l) + col}
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		if line == 1 {
			return spec.Pos{Line: v.Line, Col: v.Column + col}
		}
	default:
		if line == 1 {
			return spec.Pos{Line: v.Line, Col: v.Column + col - 1}
		}
	}
	l := v.Line + line - 1
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
