package schema

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// mapper turns a validator's error tree into positioned problems.
type mapper struct {
	v     *Validator
	file  string
	pos   *Positions
	value any
	// suggested holds, per object pointer, the keys a did-you-mean already
	// offered: a missing "command" next to an unknown "comand" is one mistake.
	suggested map[string]map[string]bool
}

// report maps every leaf to problems, unknown keys first so that a missing
// required key that a typo explains is not reported a second time.
func (m *mapper) report(leaves []leaf) []Problem {
	m.suggested = map[string]map[string]bool{}
	var out []Problem
	for pass := 0; pass < 2; pass++ {
		for _, l := range leaves {
			kw := lastToken(l.err.KeywordLocation)
			first := l.msg == "" && (kw == "additionalProperties" || l.err.Message == "not allowed")
			if first == (pass == 0) {
				out = append(out, m.problems(l)...)
			}
		}
	}
	return out
}

func (m *mapper) suggest(object, name string, allowed []string) string {
	msg := "unknown key " + quote(name)
	if s := Suggest(name, allowed); s != "" {
		if m.suggested[object] == nil {
			m.suggested[object] = map[string]bool{}
		}
		m.suggested[object][s] = true
		return msg + " (did you mean " + quote(s) + "?)"
	}
	if len(allowed) > 0 && len(allowed) <= 12 {
		return msg + "; allowed keys: " + strings.Join(allowed, ", ")
	}
	return msg
}

// leaf is one error to report: a validator error without causes, or a
// message this package made up for a whole oneOf/anyOf (msg set).
type leaf struct {
	err *jsonschema.ValidationError
	msg string
}

// collect walks the error tree down to its leaves: the specific failures
// (a key, a type, a pattern) rather than "doesn't validate with ...". For a
// oneOf or anyOf it keeps only the alternative the value was most likely
// meant to be, so the operator reads one explanation, not one per form.
func (m *mapper) collect(e *jsonschema.ValidationError) []leaf {
	if len(e.Causes) == 0 {
		return []leaf{{err: e}}
	}
	if kw := lastToken(e.KeywordLocation); (kw == "oneOf" || kw == "anyOf") && strings.HasSuffix(e.Message, "failed") {
		return m.bestBranch(e)
	}
	var out []leaf
	for _, c := range e.Causes {
		out = append(out, m.collect(c)...)
	}
	return out
}

// bestBranch picks the alternative of a oneOf/anyOf that matched the value
// best: one whose type fits beats one that does not; one that failed only
// deeper inside the value (it got further) beats one that failed at the
// value itself; fewer errors beat more. When no alternative even has the
// right type, one message lists what the value may be.
func (m *mapper) bestBranch(e *jsonschema.ValidationError) []leaf {
	type branch struct {
		leaves       []leaf
		level, depth int
	}
	var bs []branch
	for _, c := range e.Causes {
		b := branch{leaves: m.collect(c), level: 2}
		for _, l := range b.leaves {
			if l.err.InstanceLocation == e.InstanceLocation && l.msg == "" {
				switch lastToken(l.err.KeywordLocation) {
				case "type":
					b.level = min(b.level, 0)
				case "const", "enum":
					b.level = min(b.level, 1)
				}
			}
			b.depth = max(b.depth, strings.Count(l.err.InstanceLocation, "/"))
		}
		bs = append(bs, b)
	}
	sort.SliceStable(bs, func(i, j int) bool {
		a, b := bs[i], bs[j]
		if a.level != b.level {
			return a.level > b.level
		}
		if a.depth != b.depth {
			return a.depth > b.depth
		}
		return len(a.leaves) < len(b.leaves)
	})
	if len(bs) == 0 {
		return []leaf{{err: e}}
	}
	if bs[0].level > 0 {
		return bs[0].leaves
	}
	// Every alternative wants another type: say which types would do.
	holder := m.v.lookup(e.AbsoluteKeywordLocation, 1)
	if msg, _ := holder["errorMessage"].(string); msg != "" {
		return []leaf{{err: e, msg: msg + " (got " + m.describe(e.InstanceLocation) + ")"}}
	}
	var types []string
	for _, b := range bs {
		for _, l := range b.leaves {
			if lastToken(l.err.KeywordLocation) == "type" {
				types = append(types, schemaTypes(m.v.lookup(l.err.AbsoluteKeywordLocation, 1))...)
			}
		}
	}
	return []leaf{{err: e, msg: "expected " + typeWords(types) + ", got " + m.describe(e.InstanceLocation)}}
}

// problems turns one leaf into problems (an unknown-keys error names each
// key separately, at the key).
func (m *mapper) problems(l leaf) []Problem {
	e := l.err
	inst := e.InstanceLocation
	at := func(line, col int, path, msg string) Problem {
		return Problem{File: m.file, Line: line, Col: col, Path: path, Msg: msg}
	}
	if l.msg != "" {
		line, col := m.pos.ValuePos(inst)
		return []Problem{at(line, col, m.pos.Path(inst), l.msg)}
	}
	toks := strings.Split(e.KeywordLocation, "/")
	kw := toks[len(toks)-1]
	switch {
	case e.Message == "not allowed":
		return m.notAllowed(e)
	case kw == "additionalProperties":
		return m.unknownKeys(e)
	case kw == "required":
		var out []Problem
		line, col := m.pos.ObjectPos(inst)
		for _, name := range m.missing(e) {
			if m.suggested[inst][name] {
				continue
			}
			out = append(out, at(line, col, m.pos.Path(inst), "missing required key "+quote(name)))
		}
		return out
	case len(toks) >= 3 && toks[len(toks)-3] == "dependentRequired":
		sch := m.v.lookup(e.AbsoluteKeywordLocation, 3)
		var need string
		if deps, ok := sch["dependentRequired"].(map[string]any); ok {
			if list, ok := deps[toks[len(toks)-2]].([]any); ok {
				for _, n := range list {
					if s, ok := n.(string); ok && !hasKey(valueAt(m.value, inst), s) {
						need = s
						break
					}
				}
			}
		}
		line, col := m.pos.ObjectPos(inst)
		return []Problem{at(line, col, m.pos.Path(inst), "missing required key "+quote(need)+" (needed because "+quote(toks[len(toks)-2])+" is set)")}
	case strings.Contains(e.KeywordLocation, "/propertyNames/"):
		line, col := m.pos.KeyPos(inst)
		name := lastPointerToken(inst)
		return []Problem{at(line, col, m.pos.Path(inst), "invalid key "+quote(name)+": "+m.message(e, kw))}
	case kw == "minProperties" || kw == "maxProperties":
		line, col := m.pos.ObjectPos(inst)
		return []Problem{at(line, col, m.pos.Path(inst), m.message(e, kw))}
	case kw == "uniqueItems":
		var i, j int
		if _, err := fmt.Sscanf(e.Message, "items at index %d and %d are equal", &i, &j); err == nil {
			item := inst + "/" + strconv.Itoa(j)
			line, col := m.pos.ValuePos(item)
			return []Problem{at(line, col, m.pos.Path(item), m.display(item)+" is already listed (item ["+strconv.Itoa(i)+"]); list each value once")}
		}
	}
	line, col := m.pos.ValuePos(inst)
	return []Problem{at(line, col, m.pos.Path(inst), m.message(e, kw))}
}

// unknownKeys reports each key the schema does not allow, at the key, with
// the closest allowed key as a suggestion.
func (m *mapper) unknownKeys(e *jsonschema.ValidationError) []Problem {
	sch := m.v.lookup(e.AbsoluteKeywordLocation, 1)
	allowed := propertyNames(sch)
	obj, _ := valueAt(m.value, e.InstanceLocation).(map[string]any)
	var out []Problem
	for _, name := range sortedKeys(obj) {
		if contains(allowed, name) || matchesPatternProperty(sch, name) {
			continue
		}
		ptr := e.InstanceLocation + "/" + escapeToken(name)
		line, col := m.pos.KeyPos(ptr)
		out = append(out, Problem{File: m.file, Line: line, Col: col, Path: m.pos.Path(ptr), Msg: m.suggest(e.InstanceLocation, name, allowed)})
	}
	if len(out) == 0 { // the schema could not be read back; keep the validator's words
		line, col := m.pos.ValuePos(e.InstanceLocation)
		out = append(out, Problem{File: m.file, Line: line, Col: col, Path: m.pos.Path(e.InstanceLocation), Msg: e.Message})
	}
	return out
}

// notAllowed handles a `false` schema: a key or item the schema forbids.
func (m *mapper) notAllowed(e *jsonschema.ValidationError) []Problem {
	inst := e.InstanceLocation
	parent := inst[:max(strings.LastIndexByte(inst, '/'), 0)]
	if obj, ok := valueAt(m.value, parent).(map[string]any); ok && obj != nil {
		name := lastPointerToken(inst)
		// The forbidding keyword sits in the schema of the parent object,
		// whose properties are the keys that are allowed.
		var allowed []string
		for drop := 1; drop <= 3 && allowed == nil; drop++ {
			allowed = propertyNames(m.v.lookup(e.AbsoluteKeywordLocation, drop))
		}
		line, col := m.pos.KeyPos(inst)
		return []Problem{{File: m.file, Line: line, Col: col, Path: m.pos.Path(inst), Msg: m.suggest(parent, name, allowed)}}
	}
	line, col := m.pos.ValuePos(inst)
	return []Problem{{File: m.file, Line: line, Col: col, Path: m.pos.Path(inst), Msg: "this value is not allowed here"}}
}

// missing returns the required keys absent from the object at e.
func (m *mapper) missing(e *jsonschema.ValidationError) []string {
	sch := m.v.lookup(e.AbsoluteKeywordLocation, 1)
	obj := valueAt(m.value, e.InstanceLocation)
	var out []string
	if req, ok := sch["required"].([]any); ok {
		for _, r := range req {
			if s, ok := r.(string); ok && !hasKey(obj, s) {
				out = append(out, s)
			}
		}
	}
	if len(out) == 0 { // fall back on the validator's list: missing properties: 'a', 'b'
		for _, f := range strings.Split(strings.TrimPrefix(e.Message, "missing properties: "), ", ") {
			out = append(out, strings.Trim(f, "'"))
		}
	}
	return out
}
