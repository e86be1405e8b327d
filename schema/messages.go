package schema

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"gopkg.in/yaml.v3"
)

// message rewrites one validator error in an operator's words, using the
// schema's own titles and error messages where it has them.
func (m *mapper) message(e *jsonschema.ValidationError, kw string) string {
	sch := m.v.lookup(e.AbsoluteKeywordLocation, 1)
	inst := e.InstanceLocation
	val := valueAt(m.value, inst)
	onKey := strings.Contains(e.KeywordLocation, "/propertyNames/")
	got := func(msg string) string {
		if onKey {
			return msg
		}
		return msg + " (got " + m.display(inst) + ")"
	}
	custom := str(sch, "errorMessage")
	if t := schemaTypes(sch); custom == "" && (kw != "type" || len(t) == 1 && t[0] == "string") {
		// A pattern's message also explains a wrong type, but only when a
		// string is the one form the value may take.
		custom = str(sch, "patternErrorMessage")
	}
	switch kw {
	case "type":
		if custom != "" {
			return custom + " (got " + m.describe(inst) + ")"
		}
		return "expected " + typeWords(schemaTypes(sch)) + ", got " + m.describe(inst)
	case "enum":
		return m.enumMessage(sch, val, inst)
	case "const":
		if custom != "" {
			return got(custom)
		}
		return got("must be " + jsonText(sch["const"]))
	case "pattern":
		if p := str(sch, "patternErrorMessage"); p != "" {
			return got(p)
		}
		return got("does not match the pattern " + jsonText(sch["pattern"]))
	case "format":
		return got("is not a valid " + str(sch, "format"))
	case "minLength":
		if n := jsonText(sch["minLength"]); n == "1" {
			return "must not be empty"
		} else {
			return got("must be at least " + n + " characters long")
		}
	case "maxLength":
		return "must be at most " + jsonText(sch["maxLength"]) + " characters long"
	case "minItems":
		if n := jsonText(sch["minItems"]); n == "1" {
			return "must list at least one item"
		} else {
			return fmt.Sprintf("must list at least %s items (got %d)", n, count(val))
		}
	case "maxItems":
		return fmt.Sprintf("must list at most %s items (got %d)", jsonText(sch["maxItems"]), count(val))
	case "minimum":
		return got("must be at least " + jsonText(sch["minimum"]))
	case "maximum":
		return got("must be at most " + jsonText(sch["maximum"]))
	case "exclusiveMinimum":
		return got("must be greater than " + jsonText(sch["exclusiveMinimum"]))
	case "exclusiveMaximum":
		return got("must be less than " + jsonText(sch["exclusiveMaximum"]))
	case "multipleOf":
		return got("must be a multiple of " + jsonText(sch["multipleOf"]))
	case "minProperties", "maxProperties":
		props := propertyNames(sch)
		if jsonText(sch["minProperties"]) == "1" && jsonText(sch["maxProperties"]) == "1" && len(props) > 0 {
			return "takes exactly one of: " + strings.Join(props, ", ")
		}
		if kw == "minProperties" {
			return fmt.Sprintf("must have at least %s keys (got %d)", jsonText(sch["minProperties"]), count(val))
		}
		return fmt.Sprintf("must have at most %s keys (got %d)", jsonText(sch["maxProperties"]), count(val))
	case "oneOf":
		return "matches more than one of the allowed forms; make it match exactly one"
	case "not":
		if custom != "" {
			return got(custom)
		}
		return "this value is not allowed here"
	}
	return e.Message
}

// enumMessage names the wrong value, suggests the closest allowed one, and
// lists them all when no suggestion fits.
func (m *mapper) enumMessage(sch map[string]any, val any, inst string) string {
	values, _ := sch["enum"].([]any)
	var allowed []string
	for _, v := range values {
		if s, ok := v.(string); ok {
			allowed = append(allowed, s)
		} else {
			allowed = append(allowed, jsonText(v))
		}
	}
	title := str(sch, "title")
	if title == "" {
		title = "value"
	}
	msg := "unknown " + title + " " + m.display(inst)
	if s, ok := val.(string); ok {
		if sug := Suggest(s, allowed); sug != "" {
			return msg + " (did you mean " + quote(sug) + "?)"
		}
	}
	const most = 20
	if len(allowed) > most {
		allowed = append(allowed[:most:most], "...")
	}
	return msg + "; expected one of: " + strings.Join(allowed, ", ")
}

// node returns the YAML node at a pointer, aliases followed.
func (m *mapper) node(inst string) *yaml.Node {
	_, n, ok := m.pos.Lookup(inst)
	if !ok {
		return nil
	}
	for depth := 0; n != nil && n.Kind == yaml.AliasNode && depth < 100; depth++ {
		n = n.Alias
	}
	return n
}

// describe says what kind of value the operator wrote: a string ("abc"),
// an integer (30), a mapping.
func (m *mapper) describe(inst string) string {
	n := m.node(inst)
	if n == nil {
		return jsonKind(valueAt(m.value, inst))
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!null":
		return "an empty value"
	case "!!int":
		return "an integer (" + clip(n.Value) + ")"
	case "!!float":
		return "a number (" + clip(n.Value) + ")"
	case "!!bool":
		return "a boolean (" + clip(n.Value) + ")"
	}
	return "a string (" + quote(clip(n.Value)) + ")"
}

// display shows the value as written: "abc" for a string, 30 for a number.
func (m *mapper) display(inst string) string {
	n := m.node(inst)
	switch {
	case n == nil:
		return clip(jsonText(valueAt(m.value, inst)))
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.ShortTag() == "!!str":
		return quote(clip(n.Value))
	case n.ShortTag() == "!!null":
		return "an empty value"
	}
	return clip(n.Value)
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case nil:
		return "an empty value"
	}
	return "a number"
}

var typeWord = map[string]string{
	"object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
	"number": "a number", "boolean": "a boolean (true or false)", "null": "an empty value",
}

// typeWords turns JSON Schema type names into "a string or a list".
func typeWords(types []string) string {
	seen := map[string]bool{}
	var words []string
	for _, t := range types {
		if seen[t] || (t == "integer" && contains(types, "number")) {
			continue
		}
		seen[t] = true
		w := typeWord[t]
		if w == "" {
			w = t
		}
		words = append(words, w)
	}
	switch len(words) {
	case 0:
		return "another type"
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

func schemaTypes(sch map[string]any) []string {
	switch t := sch["type"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// propertyNames returns a schema's declared keys, sorted.
func propertyNames(sch map[string]any) []string {
	props, _ := sch["properties"].(map[string]any)
	if props == nil {
		return nil
	}
	return sortedKeys(props)
}

func matchesPatternProperty(sch map[string]any, name string) bool {
	pats, _ := sch["patternProperties"].(map[string]any)
	for p := range pats {
		if re, err := regexp.Compile(p); err == nil && re.MatchString(name) {
			return true
		}
	}
	return false
}

// valueAt returns the converted value at a JSON pointer.
func valueAt(root any, pointer string) any {
	v := root
	for _, t := range splitPointer(pointer) {
		switch x := v.(type) {
		case map[string]any:
			v = x[t]
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func hasKey(obj any, key string) bool {
	m, ok := obj.(map[string]any)
	if !ok {
		return false
	}
	_, ok = m[key]
	return ok
}

func count(v any) int {
	switch x := v.(type) {
	case map[string]any:
		return len(x)
	case []any:
		return len(x)
	}
	return 0
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// jsonText renders a schema value: strings as they are, the rest as JSON.
func jsonText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func quote(s string) string { return strconv.Quote(s) }

// clip shortens long values so a message stays on one line.
func clip(s string) string {
	const most = 60
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + "..."
	}
	if utf8.RuneCountInString(s) > most {
		r := []rune(s)
		s = string(r[:most]) + "..."
	}
	return s
}

func lastToken(keywordLocation string) string {
	return keywordLocation[strings.LastIndexByte(keywordLocation, '/')+1:]
}

func lastPointerToken(pointer string) string {
	toks := splitPointer(pointer)
	if len(toks) == 0 {
		return ""
	}
	return toks[len(toks)-1]
}
