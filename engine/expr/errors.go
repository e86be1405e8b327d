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

// fromExpr converts an error from expr-lang (whose location is a rune offset
// inside the expression text) into an Error positioned in the full source,
// given the rune offset at which the expression text starts.
func fromExpr(full string, base int, err error) *Error {
	var fe *file.Error
	if errors.As(err, &fe) {
		return errorAt(full, base+fe.From, "%s", fe.Message)
	}
	return errorAt(full, base, "%s", err.Error())
}
