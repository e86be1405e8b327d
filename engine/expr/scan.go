package expr

import "strings"

// segment is one piece of a template: literal text, or an expression whose
// text is src[from:to] (byte offsets).
type segment struct {
	lit      string
	expr     bool
	raw      bool
	from, to int
}

// scanTemplate splits src into literal text and `${{ ... }}` expressions.
// `$${{` is a literal `${{`. The end of an expression is the first `}}`
// outside string literals and outside braces the expression opened, so map
// literals and strings containing "}}" work. It returns the byte offset of
// an unterminated `${{` as bad (else -1).
func scanTemplate(src string) (segs []segment, bad int) {
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			segs = append(segs, segment{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(src); {
		switch {
		case strings.HasPrefix(src[i:], "$${{"):
			lit.WriteString("${{")
			i += 4
		case strings.HasPrefix(src[i:], "${{"):
			end := exprEnd(src, i+3)
			if end < 0 {
				return nil, i
			}
			flush()
			seg := segment{expr: true, from: i + 3, to: end}
			seg.raw, seg.from = rawPrefix(src, seg.from, end)
			segs = append(segs, seg)
			i = end + 2
		default:
			lit.WriteByte(src[i])
			i++
		}
	}
	flush()
	return segs, -1
}

// exprEnd returns the byte offset of the `}}` closing an expression that
// starts at i, or -1.
func exprEnd(src string, i int) int {
	depth := 0
	for i < len(src) {
		switch c := src[i]; c {
		case '"', '\'', '`':
			i = stringEnd(src, i)
			if i < 0 {
				return -1
			}
			continue
		case '{':
			depth++
		case '}':
			if depth == 0 && i+1 < len(src) && src[i+1] == '}' {
				return i
			}
			if depth > 0 {
				depth--
			}
		}
		i++
	}
	return -1
}

// stringEnd returns the offset just past the string literal opening at i.
func stringEnd(src string, i int) int {
	q := src[i]
	for j := i + 1; j < len(src); j++ {
		switch {
		case src[j] == '\\' && q != '`':
			j++
		case src[j] == q:
			return j + 1
		}
	}
	return -1
}

// rawPrefix recognises `raw` followed by white space at the start of an
// expression and returns where the expression proper starts.
func rawPrefix(src string, from, to int) (bool, int) {
	i := from
	for i < to && isSpace(src[i]) {
		i++
	}
	if strings.HasPrefix(src[i:to], "raw") && i+3 < to && isSpace(src[i+3]) {
		return true, i + 3
	}
	return false, from
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
