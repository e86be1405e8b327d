package expr

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr/vm/runtime"
)

// The metered stand-ins for expr's builtins and operators: each works out
// what it is about to build, charges the meter, and only then builds it.
// Their validators type them as expr's own would, so rewriting an
// expression changes no type check.

// wordSize is what a list element or a string header costs: a list of a
// million empty strings is not free.
const wordSize = 16

var (
	anyType    = reflect.TypeOf((*any)(nil)).Elem()
	stringType = reflect.TypeOf("")
	intType    = reflect.TypeOf(0)
	floatType  = reflect.TypeOf(0.0)
	durType    = reflect.TypeOf(time.Duration(0))
	stringsTyp = reflect.TypeOf([]string(nil))
	boolType   = reflect.TypeOf(true)
)

// meteredFuncs are the functions the rewrite calls, by their hidden names.
var meteredFuncs = map[string]metered{
	"·split":   {"split", meterSplit, validateSplit},
	"·join":    {"join", meterJoin, validateJoin},
	"·upper":   {"upper", func(m *meter, a []any) (any, error) { return meterCase(m, "upper", a, strings.ToUpper) }, validateStrings("upper", 1, 1, stringType)},
	"·lower":   {"lower", func(m *meter, a []any) (any, error) { return meterCase(m, "lower", a, strings.ToLower) }, validateStrings("lower", 1, 1, stringType)},
	"·string":  {"string", meterString, validateString},
	"·add":     {"+", meterAdd, validateAdd},
	"·iter":    {"a predicate", meterIter, validateIter},
	"·matches": {"matches", meterMatches, validateStrings("matches", 2, 2, boolType)},
}

// rewritten are the builtins whose calls the rewrite replaces.
var rewritten = map[string]string{
	"split": "·split", "join": "·join", "upper": "·upper", "lower": "·lower", "string": "·string",
}

func str(v any, fn string, i int) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: argument %d must be a string, not %s", fn, i+1, valueType(v))
	}
	return s, nil
}

func meterSplit(m *meter, a []any) (any, error) {
	if len(a) < 2 || len(a) > 3 {
		return nil, fmt.Errorf("split takes 2 or 3 arguments, not %d", len(a))
	}
	s, err := str(a[0], "split", 0)
	if err != nil {
		return nil, err
	}
	sep, err := str(a[1], "split", 1)
	if err != nil {
		return nil, err
	}
	limit := -1
	if len(a) == 3 {
		limit = runtime.ToInt(a[2])
	}
	n := 1
	if sep == "" {
		n = utf8.RuneCountInString(s)
	} else {
		n += strings.Count(s, sep)
	}
	if limit >= 0 && n > limit {
		n = limit
	}
	// The pieces share s; what is new is one header per piece.
	if err := m.charge("split", n*wordSize); err != nil {
		return nil, err
	}
	return strings.SplitN(s, sep, limit), nil
}

func meterJoin(m *meter, a []any) (any, error) {
	if len(a) < 1 || len(a) > 2 {
		return nil, fmt.Errorf("join takes 1 or 2 arguments, not %d", len(a))
	}
	glue := ""
	if len(a) == 2 {
		var err error
		if glue, err = str(a[1], "join", 1); err != nil {
			return nil, err
		}
	}
	var parts []string
	switch l := a[0].(type) {
	case []string:
		parts = l
	case []any:
		parts = make([]string, len(l))
		for i, el := range l {
			s, ok := el.(string)
			if !ok {
				return nil, fmt.Errorf("join: element %d is %s, not a string", i, valueType(el))
			}
			parts[i] = s
		}
	default:
		return nil, fmt.Errorf("join: argument 1 must be a list of strings, not %s", valueType(a[0]))
	}
	size := 0
	for _, p := range parts {
		size += len(p)
		if size > ByteBudget {
			break
		}
	}
	if len(parts) > 1 {
		size += min(len(parts)-1, ByteBudget) * len(glue)
	}
	if err := m.charge("join", size); err != nil {
		return nil, err
	}
	return strings.Join(parts, glue), nil
}

// meterCase changes a string's case. A character's other case takes at most
// three bytes for every two it had.
func meterCase(m *meter, name string, a []any, change func(string) string) (any, error) {
	s, err := str(a[0], name, 0)
	if err != nil {
		return nil, err
	}
	if err := m.charge(name, len(s)+len(s)/2); err != nil {
		return nil, err
	}
	return change(s), nil
}

func meterString(m *meter, a []any) (any, error) {
	if s, ok := a[0].(string); ok {
		return s, nil
	}
	// Bound the formatted size from the value before formatting it.
	if err := m.charge("string", formattedSize(a[0], ByteBudget+1)); err != nil {
		return nil, err
	}
	return fmt.Sprintf("%v", a[0]), nil
}

// formattedSize is an upper bound of the length of fmt's %v of v, or more
// than limit (it stops counting there).
func formattedSize(v any, limit int) int {
	switch x := v.(type) {
	case nil:
		return 5
	case string:
		return len(x)
	case bool, int, int64, float64, time.Duration:
		return 32
	case []string:
		n := 2
		for _, s := range x {
			if n += len(s) + 1; n > limit {
				return n
			}
		}
		return n
	case []any:
		n := 2
		for _, el := range x {
			if n += formattedSize(el, limit-n) + 1; n > limit {
				return n
			}
		}
		return n
	case map[string]any:
		n := 5
		for k, el := range x {
			if n += len(k) + formattedSize(el, limit-n) + 2; n > limit {
				return n
			}
		}
		return n
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		n := 2
		for i := range rv.Len() {
			if n += formattedSize(rv.Index(i).Interface(), limit-n) + 1; n > limit {
				return n
			}
		}
		return n
	case reflect.Map:
		n := 5
		for it := rv.MapRange(); it.Next(); {
			if n += formattedSize(it.Key().Interface(), limit-n) + formattedSize(it.Value().Interface(), limit-n) + 2; n > limit {
				return n
			}
		}
		return n
	}
	return 64
}

func meterAdd(m *meter, a []any) (any, error) {
	if x, ok := a[0].(string); ok {
		if y, ok := a[1].(string); ok {
			if err := m.charge("+", len(x)+len(y)); err != nil {
				return nil, err
			}
			return x + y, nil
		}
	}
	return runtime.Add(a[0], a[1]), nil
}

func meterIter(m *meter, a []any) (any, error) {
	n := 0
	switch l := a[0].(type) {
	case []any:
		n = len(l)
	case []string:
		n = len(l)
	case []int:
		n = len(l)
	default:
		rv := reflect.ValueOf(a[0])
		if k := rv.Kind(); k == reflect.Slice || k == reflect.Array || k == reflect.Map || k == reflect.String {
			n = rv.Len()
		}
	}
	if err := m.iterate("a predicate (map, filter, all...)", n); err != nil {
		return nil, err
	}
	return a[0], nil
}

func meterMatches(m *meter, a []any) (any, error) {
	if a[0] == nil || a[1] == nil {
		return false, nil // as expr's matches
	}
	s, err := str(a[0], "matches", 0)
	if err != nil {
		return nil, err
	}
	pattern, err := str(a[1], "matches", 1)
	if err != nil {
		return nil, err
	}
	if len(pattern) > MaxPattern {
		return nil, fmt.Errorf("matches: the pattern is %s, more than the %s a pattern may be", byteText(len(pattern)), byteText(MaxPattern))
	}
	// A compiled pattern takes tens of bytes for each byte of it.
	if err := m.charge("matches", 64*len(pattern)); err != nil {
		return nil, err
	}
	return regexp.MatchString(pattern, s)
}

// The validators give the checker the types expr's own builtins and
// operators would, so rewriting changes no type check.

func validateSplit(args []reflect.Type) (reflect.Type, error) {
	if len(args) < 2 || len(args) > 3 {
		return nil, fmt.Errorf("split takes 2 or 3 arguments, not %d", len(args))
	}
	for i, t := range args[:2] {
		if !fits(t, stringType) {
			return nil, fmt.Errorf("split: argument %d must be a string, not %s", i+1, typeName(t))
		}
	}
	if len(args) == 3 && !isNumber(args[2]) && args[2] != anyType {
		return nil, fmt.Errorf("split: argument 3 must be an integer, not %s", typeName(args[2]))
	}
	return stringsTyp, nil
}

func validateJoin(args []reflect.Type) (reflect.Type, error) {
	if len(args) < 1 || len(args) > 2 {
		return nil, fmt.Errorf("join takes 1 or 2 arguments, not %d", len(args))
	}
	if t := args[0]; t != anyType && t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
		return nil, fmt.Errorf("join: argument 1 must be a list of strings, not %s", typeName(t))
	}
	if len(args) == 2 && !fits(args[1], stringType) {
		return nil, fmt.Errorf("join: argument 2 must be a string, not %s", typeName(args[1]))
	}
	return stringType, nil
}

func validateStrings(name string, minArgs, maxArgs int, out reflect.Type) func([]reflect.Type) (reflect.Type, error) {
	return func(args []reflect.Type) (reflect.Type, error) {
		if len(args) < minArgs || len(args) > maxArgs {
			return nil, fmt.Errorf("%s takes %d argument(s), not %d", name, maxArgs, len(args))
		}
		for i, t := range args {
			if !fits(t, stringType) {
				return nil, fmt.Errorf("%s: argument %d must be a string, not %s", name, i+1, typeName(t))
			}
		}
		return out, nil
	}
}

func validateString(args []reflect.Type) (reflect.Type, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("string takes 1 argument, not %d", len(args))
	}
	return stringType, nil
}

// validateAdd types `+` as expr's checker does: numbers (durations among
// them) promote, two strings or two durations stay what they are, anything
// unknown is known at run time, anything else is a mismatch.
func validateAdd(args []reflect.Type) (reflect.Type, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("+ takes 2 operands, not %d", len(args))
	}
	l, r := args[0], args[1]
	switch {
	case l == nil || r == nil || l == anyType || r == anyType:
		// nil (a nil literal) or unknown: decided at run time.
		return anyType, nil
	case l == durType && r == durType:
		return durType, nil
	case isNumber(l) && isNumber(r):
		if isInteger(l) && isInteger(r) {
			return intType, nil
		}
		return floatType, nil
	case l.Kind() == reflect.String && r.Kind() == reflect.String:
		return stringType, nil
	}
	return nil, fmt.Errorf("invalid operation: + (mismatched types %s and %s)", typeName(l), typeName(r))
}

func validateIter(args []reflect.Type) (reflect.Type, error) {
	if len(args) == 0 {
		return anyType, nil
	}
	return args[0], nil
}

func fits(t, want reflect.Type) bool { return t == nil || t == anyType || t.Kind() == want.Kind() }

func isInteger(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

func isNumber(t reflect.Type) bool {
	return isInteger(t) || t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64
}
