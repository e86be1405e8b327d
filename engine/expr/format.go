package expr

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/zdu-dev/zdu/steps/transport"
)

// write inserts one value into a rendering. In Shell mode a string becomes
// one single-quoted word and a list one quoted word per element, separated by
// spaces; numbers, bools and durations need no quotes. Raw and Text insert
// the plain text (Text joins lists with ",", raw Shell with " ").
func (t *Template) write(b *strings.Builder, v any, raw bool) error {
	if list, ok := asList(v); ok {
		sep := ","
		if t.mode == Shell {
			sep = " "
		}
		for i, el := range list {
			if i > 0 {
				if err := fitsRendering(b, len(sep)); err != nil {
					return err
				}
				b.WriteString(sep)
			}
			if _, nested := asList(el); nested {
				return fmt.Errorf("cannot insert a list of lists")
			}
			if el == nil {
				return &nilValue{elem: i}
			}
			if err := t.writeScalar(b, el, raw); err != nil {
				return err
			}
		}
		return nil
	}
	return t.writeScalar(b, v, raw)
}

// nilValue is a value that is not there: an undefined var, a param without
// a value, a missing field. It is never written as an empty string. elem is
// the list element that is nil, or -1.
type nilValue struct{ elem int }

func (e *nilValue) Error() string { return "no value (nil)" }

func (t *Template) writeScalar(b *strings.Builder, v any, raw bool) error {
	s, quote, err := scalarText(v)
	if err != nil {
		return err
	}
	if t.mode != Shell {
		if err := fitsRendering(b, len(s)); err != nil {
			return err
		}
		b.WriteString(s)
		return nil
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("value contains a NUL byte, which a shell command cannot hold")
	}
	if quote && !raw {
		// Quoting wraps the value in quotes and turns each ' into '\''.
		if err := fitsRendering(b, len(s)+2+3*strings.Count(s, "'")); err != nil {
			return err
		}
		s = transport.Quote(s)
	}
	if err := fitsRendering(b, len(s)); err != nil {
		return err
	}
	b.WriteString(s)
	return nil
}

// fitsRendering refuses to grow a rendering by n bytes past ByteBudget:
// ${{ vars.big }} written a thousand times must not take gigabytes.
func fitsRendering(b *strings.Builder, n int) error {
	if b.Len()+n > ByteBudget {
		return fmt.Errorf("the rendered text would be more than %s (the budget of one rendering)", byteText(ByteBudget))
	}
	return nil
}

// scalarText formats a scalar; quote says whether a shell needs it quoted
// (strings do; numbers, bools and durations are plain words). nil is a *nilValue.
func scalarText(v any) (s string, quote bool, err error) {
	switch v := v.(type) {
	case nil:
		return "", false, &nilValue{elem: -1}
	case string:
		return v, true, nil
	case bool:
		return strconv.FormatBool(v), false, nil
	case int:
		return strconv.Itoa(v), false, nil
	case time.Duration:
		return v.String(), false, nil
	case float64:
		return formatFloat(v), false, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return rv.String(), true, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), false, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(rv.Uint(), 10), false, nil
	case reflect.Float32:
		return formatFloat(rv.Float()), false, nil
	}
	return "", false, fmt.Errorf("cannot insert a %s; pick a field or use join()", valueType(v))
}

func formatFloat(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// asList reports whether v is a list, and its elements.
func asList(v any) ([]any, bool) {
	switch v := v.(type) {
	case []any:
		return v, true
	case []string:
		out := make([]any, len(v))
		for i, s := range v {
			out[i] = s
		}
		return out, true
	case string, nil:
		return nil, false
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, false
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, true
}
