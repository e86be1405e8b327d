package analysis

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// A Path is a small, bounded subset of JSONPath that names one value in a
// JSON document: `$` (the root, optional at the start), `.name`, `['name']`
// or `["name"]` (any key, with \\ and \' or \" escaped), and `[N]` (an array
// element; a negative N counts from the end). No wildcards, filters, slices
// or recursion: a threshold compares one number. `data.value` is read as
// `$.data.value`.
type Path struct {
	src  string
	segs []segment
}

type segment struct {
	key   string
	index int
	isIdx bool
}

// Bounds on a path, so a plan cannot make zdu do unbounded work.
const (
	maxPathLen  = 512
	maxSegments = 64
)

// ErrNoValue marks a measurement that found nothing to compare: a JSON path
// that leads nowhere or to null, an empty Prometheus result, NaN. A step's
// `emptyValue` stands in for it when set.
var ErrNoValue = errors.New("no value")

// ParsePath compiles a path; an error says where it goes wrong.
func ParsePath(s string) (Path, error) {
	if len(s) > maxPathLen {
		return Path{}, fmt.Errorf("path is %d characters long, more than %d", len(s), maxPathLen)
	}
	p := Path{src: s}
	i := 0
	if strings.HasPrefix(s, "$") {
		i = 1
	} else if s != "" && s[0] != '.' && s[0] != '[' {
		s = "." + s // `data.value` is `$.data.value`
		p.src = "$" + s
		if len(p.src) > maxPathLen {
			// The path as written out, which String gives, stays in bounds.
			return Path{}, fmt.Errorf("path is %d characters long with the $. it stands for, more than %d", len(p.src), maxPathLen)
		}
	}
	if s == "" {
		return Path{}, errors.New("path is empty (use $ for the whole body)")
	}
	for i < len(s) {
		if len(p.segs) == maxSegments {
			return Path{}, fmt.Errorf("path has more than %d parts", maxSegments)
		}
		var (
			sg  segment
			err error
		)
		switch s[i] {
		case '.':
			sg, i, err = parseName(s, i+1)
		case '[':
			sg, i, err = parseBracket(s, i+1)
		default:
			err = fmt.Errorf("at offset %d: expected . or [, found %q", i, s[i])
		}
		if err != nil {
			return Path{}, fmt.Errorf("path %q: %w", p.src, err)
		}
		p.segs = append(p.segs, sg)
	}
	return p, nil
}

func isNameChar(c byte, first bool) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && (c == '-' || c >= '0' && c <= '9')
}

func parseName(s string, i int) (segment, int, error) {
	j := i
	for j < len(s) && isNameChar(s[j], j == i) {
		j++
	}
	if j == i {
		return segment{}, i, fmt.Errorf("at offset %d: a name must follow the dot (letters, digits, _ and -, not starting with a digit; use ['key'] for any other key)", i)
	}
	return segment{key: s[i:j]}, j, nil
}

func parseBracket(s string, i int) (segment, int, error) {
	if i < len(s) && (s[i] == '\'' || s[i] == '"') {
		q := s[i]
		var b strings.Builder
		for j := i + 1; j < len(s); j++ {
			switch c := s[j]; {
			case c == '\\' && j+1 < len(s) && (s[j+1] == q || s[j+1] == '\\'):
				b.WriteByte(s[j+1])
				j++
			case c == q:
				if j+1 >= len(s) || s[j+1] != ']' {
					return segment{}, j, fmt.Errorf("at offset %d: ] must follow the quoted key", j+1)
				}
				return segment{key: b.String()}, j + 2, nil
			default:
				b.WriteByte(c)
			}
		}
		return segment{}, i, fmt.Errorf("at offset %d: unterminated quoted key", i)
	}
	end := strings.IndexByte(s[i:], ']')
	if end < 0 {
		return segment{}, i, fmt.Errorf("at offset %d: missing ]", i-1)
	}
	txt := s[i : i+end]
	n, err := strconv.Atoi(txt)
	if err != nil || strings.HasPrefix(txt, "+") || len(txt) > 9 {
		return segment{}, i, fmt.Errorf("at offset %d: [%s] is neither an index nor a quoted key ('name')", i, txt)
	}
	return segment{index: n, isIdx: true}, i + end + 1, nil
}

func (p Path) String() string { return p.src }

// Lookup finds the path's value in doc (as decoded by encoding/json). A path
// that leads nowhere is an ErrNoValue error saying where it stopped.
func (p Path) Lookup(doc any) (any, error) {
	cur := doc
	at := "$"
	for _, sg := range p.segs {
		if sg.isIdx {
			arr, ok := cur.([]any)
			if !ok {
				return nil, fmt.Errorf("%s is %s, not an array: %w", at, kind(cur), ErrNoValue)
			}
			i := sg.index
			if i < 0 {
				i += len(arr)
			}
			if i < 0 || i >= len(arr) {
				return nil, fmt.Errorf("%s has %d element(s), no [%d]: %w", at, len(arr), sg.index, ErrNoValue)
			}
			cur, at = arr[i], fmt.Sprintf("%s[%d]", at, sg.index)
			continue
		}
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s is %s, not an object: %w", at, kind(cur), ErrNoValue)
		}
		v, ok := obj[sg.key]
		if !ok {
			return nil, fmt.Errorf("%s has no key %q (it has %s): %w", at, sg.key, someKeys(obj), ErrNoValue)
		}
		cur, at = v, at+keyText(sg.key)
	}
	return cur, nil
}

func keyText(k string) string {
	if k != "" && isNameChar(k[0], true) && strings.IndexFunc(k, func(r rune) bool { return r > 127 || !isNameChar(byte(r), false) }) < 0 {
		return "." + k
	}
	return "[" + strconv.Quote(k) + "]"
}

func someKeys(obj map[string]any) string {
	if len(obj) == 0 {
		return "no keys"
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	more := ""
	if len(keys) > 5 {
		more = fmt.Sprintf(" and %d more", len(keys)-5)
		keys = keys[:5]
	}
	return strconv.Quote(strings.Join(keys, ", ")) + more
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	}
	return fmt.Sprintf("a %T", v)
}

// Number finds the path's value in doc and reads it as a number: a JSON
// number, or a string holding one ("0.25", and "NaN", "+Inf", "-Inf" as
// Prometheus writes them). null, NaN and a path that leads nowhere are
// ErrNoValue errors.
func (p Path) Number(doc any) (float64, error) {
	v, err := p.Lookup(doc)
	if err != nil {
		return 0, err
	}
	var txt string
	switch x := v.(type) {
	case nil:
		return 0, fmt.Errorf("%s is null: %w", p, ErrNoValue)
	case json.Number:
		txt = string(x)
	case float64:
		txt = strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		txt = strings.TrimSpace(x)
	default:
		return 0, fmt.Errorf("%s is %s, not a number", p, kind(v))
	}
	f, err := ParseNumber(txt)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", p, err)
	}
	return f, nil
}

// ParseNumber reads a sample value: a decimal number, or NaN, +Inf, -Inf.
// NaN is an ErrNoValue error (0/0: nothing was counted); a number too large
// for a float64 is an error, not +Inf.
func ParseNumber(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%q is out of range", excerptText(s))
	}
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", excerptText(s))
	}
	if math.IsNaN(f) {
		return 0, fmt.Errorf("NaN (e.g. 0/0, nothing counted): %w", ErrNoValue)
	}
	return f, nil
}

func excerptText(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
