package expr

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/expr-lang/expr/file"
)

// Error is a compile or render problem at a position in the source text the
// caller passed in. Line and Col are 1-based and relative to that text (Col
// counts characters, not bytes); the loader adds the position of the YAML
// scalar the text came from.
type Error struct {
	Line, Col int
	Msg       string
}

func (e *Error) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg) }

// errorAt builds an Error at a rune offset of src.
func errorAt(src string, runeOff int, format string, args ...any) *Error {
	line, col := position(src, runeOff)
	return &Error{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

// position turns a rune offset into a 1-based line and column. Offsets past
// the end point just after the last character.
func position(src string, runeOff int) (line, col int) {
	line, col = 1, 1
	n := 0
	for _, r := range src {
		if n == runeOff {
			break
		}
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
		n++
	}
	return line, col
}

// runeOffset converts a byte offset of src into a rune offset.
func runeOffset(src string, byteOff int) int {
	return utf8.RuneCountInString(src[:byteOff])
}

// origin is where an expression's text starts in the text the caller
// passed in (a template holds several expressions): a 1-based line and
// column. Positions inside the expression are shifted by it, so placing
// an error or a reference costs the expression's length, not the
// template's.
type origin struct{ line, col int }

var startOfText = origin{1, 1}

// place turns a rune offset of the expression text src into a line and
// column of the caller's text.
func (o origin) place(src string, runeOff int) (line, col int) {
	l, c := position(src, runeOff)
	if l == 1 {
		return o.line, o.col + c - 1
	}
	return o.line + l - 1, c
}

// errorAt builds an Error at a rune offset of the expression text src.
func (o origin) errorAt(src string, runeOff int, format string, args ...any) *Error {
	line, col := o.place(src, runeOff)
	return &Error{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

// fromExpr converts an error from expr-lang (whose location is a rune offset
// inside the expression text src) into an Error in the caller's text.
func (o origin) fromExpr(src string, err error) *Error {
	var fe *file.Error
	if errors.As(err, &fe) {
		return o.errorAt(src, fe.From, "%s", fe.Message)
	}
	return o.errorAt(src, 0, "%s", err.Error())
}

// lineCounter walks a text once, front to back, turning byte offsets into
// origins: the template scanner places every expression in one pass.
type lineCounter struct {
	src  string
	off  int // bytes consumed
	line int
	col  int
}

func newLineCounter(src string) *lineCounter { return &lineCounter{src: src, line: 1, col: 1} }

// at returns the origin of byte offset off, which must not be before the
// previous call's.
func (lc *lineCounter) at(off int) origin {
	for _, r := range lc.src[lc.off:off] {
		if r == '\n' {
			lc.line, lc.col = lc.line+1, 1
		} else {
			lc.col++
		}
	}
	lc.off = off
	return origin{lc.line, lc.col}
}
