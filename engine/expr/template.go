package expr

import (
	"errors"
	"fmt"
	"strings"

	"github.com/zdu-dev/zdu/steps/step"
)

// Mode says how interpolated values are written into a template.
type Mode int

const (
	// Shell single-quotes every value for POSIX shells, so a value is always
	// one word (a list is one word per element); `${{ raw x }}` does not.
	Shell Mode = iota
	// Text inserts values as they are; lists are joined with ",".
	Text
)

// Template is a string with `${{ expr }}` parts, compiled at load time. The
// zero value (and nil) is an absent key: it renders to "" and IsZero.
// It is safe for concurrent use.
type Template struct {
	src     string
	mode    Mode
	present bool
	// constant is the rendering when there are no expressions.
	constant string
	parts    []part
	// check, when set, vets every inserted value (see WithCheck).
	check step.ValueCheck
}

type part struct {
	lit  string
	expr *Expr
	raw  bool
}

var _ step.Template = (*Template)(nil)

// Constant is a present template without expressions.
func Constant(s string) *Template {
	return &Template{src: s, present: true, constant: s}
}

// Zero is the template of an absent key.
func Zero() *Template { return &Template{} }

// CompileTemplate compiles src. Errors are *Error positioned at the
// offending expression inside src.
func CompileTemplate(src string, mode Mode, sc Scope) (*Template, error) {
	t := &Template{src: src, mode: mode, present: true}
	if !strings.Contains(src, "${{") {
		t.constant = src
		return t, nil
	}
	segs, bad := scanTemplate(src)
	if bad >= 0 {
		return nil, errorAt(src, runeOffset(src, bad), "unterminated ${{: missing }}")
	}
	lines := newLineCounter(src)
	for _, s := range segs {
		if !s.expr {
			t.parts = append(t.parts, part{lit: s.lit})
			continue
		}
		if s.raw && strings.TrimSpace(src[s.from:s.to]) == "" {
			return nil, errorAt(src, runeOffset(src, s.from-3), "raw needs an expression: ${{ raw params.x }}")
		}
		e, err := compile(src[s.from:s.to], sc, lines.at(s.from), wantInsertable)
		if err != nil {
			return nil, err
		}
		t.parts = append(t.parts, part{expr: e, raw: s.raw})
	}
	if len(t.parts) == 1 && t.parts[0].expr == nil {
		t.constant, t.parts = t.parts[0].lit, nil // only `$${{` escapes
	}
	return t, nil
}

// Source is the text as written in the plan.
func (t *Template) Source() string {
	if t == nil {
		return ""
	}
	return t.src
}

// checkList refuses a list where its words would not be what they seem: in
// a shell command a list is one word per element, so it must stand as a word
// of its own (`rm -rf ${{ dirs }}/old` would put /old on the last element
// only, and on nothing when the list is empty); in text an empty list would
// be an empty string.
func (t *Template) checkList(i int, list []any) error {
	if t.mode != Shell {
		if len(list) == 0 {
			return fmt.Errorf("is an empty list, which would insert nothing; give it an element or a default")
		}
		return nil
	}
	before := i == 0 || (t.parts[i-1].expr == nil && endsWord(t.parts[i-1].lit, false))
	after := i == len(t.parts)-1 || (t.parts[i+1].expr == nil && endsWord(t.parts[i+1].lit, true))
	if !before || !after {
		return fmt.Errorf("is a list, which becomes one word per element: it must stand as a word of its own, not joined to other text (use join() for one word)")
	}
	return nil
}

// endsWord reports whether lit ends (or, with start, starts) at a shell word
// boundary: white space, an operator, or nothing.
func endsWord(lit string, start bool) bool {
	if lit == "" {
		return true
	}
	c := lit[len(lit)-1]
	if start {
		c = lit[0]
	}
	return strings.IndexByte(" \t\n;|&()<>", c) >= 0
}

// Refs lists what the template's expressions read, positioned in its source.
func (t *Template) Refs() []Ref {
	if t == nil {
		return nil
	}
	var out []Ref
	for _, p := range t.parts {
		if p.expr != nil {
			out = append(out, p.expr.refs...)
		}
	}
	return out
}

// Expressions is how many `${{ }}` the template holds: the interpolations
// each rendering evaluates.
func (t *Template) Expressions() int {
	if t == nil {
		return 0
	}
	n := 0
	for _, p := range t.parts {
		if p.expr != nil {
			n++
		}
	}
	return n
}

// IsZero reports whether the key was absent.
func (t *Template) IsZero() bool { return t == nil || !t.present }

// IsConstant reports whether the template has no expressions, so Render
// returns the same string for every node.
func (t *Template) IsConstant() bool { return t == nil || t.parts == nil }

// Render evaluates the template for env (an *Env).
func (t *Template) Render(env step.Env) (string, error) {
	if t == nil {
		return "", nil
	}
	if t.parts == nil {
		return t.constant, nil
	}
	var b strings.Builder
	b.Grow(min(len(t.src)+16, ByteBudget))
	for i, p := range t.parts {
		if p.expr == nil {
			if err := fitsRendering(&b, len(p.lit)); err != nil {
				return "", errorAt(t.src, 0, "%v", err)
			}
			b.WriteString(p.lit)
			continue
		}
		v, err := p.expr.Eval(env)
		if err != nil {
			return "", err
		}
		if list, isList := asList(v); isList {
			if err := t.checkList(i, list); err != nil {
				return "", p.expr.errorf("${{ %s }} %s", strings.TrimSpace(p.expr.src), err)
			}
		}
		var nv *nilValue
		start := b.Len()
		if err := t.write(&b, v, p.raw); errors.As(err, &nv) {
			// Never an empty string in its place: a misspelt or missing
			// value would turn `rm -rf ${{ vars.dir }}/old` into rm -rf /old.
			what := ""
			if nv.elem >= 0 {
				what = fmt.Sprintf(" in list element %d", nv.elem)
			}
			return "", p.expr.errorf("${{ %s }} has no value for this node (nil%s); give it one, or a default with ??",
				strings.TrimSpace(p.expr.src), what)
		} else if err != nil {
			return "", p.expr.errorf("%s", err.Error())
		}
		if err := t.checkPart(p, b.String()[start:]); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

// WithCheck makes every value the template inserts pass check, as Render
// inserts it: Render fails, naming the expression, before the rendering
// reaches anything; CheckKnown applies it before the run.
func (t *Template) WithCheck(check step.ValueCheck) *Template {
	t.check = check
	return t
}

func (t *Template) checkPart(p part, text string) error {
	if t.check == nil {
		return nil
	}
	if err := t.check(text, p.raw); err != nil {
		return p.expr.org.errorAt(p.expr.src, p.expr.at, "${{ %s }}: %v", strings.TrimSpace(p.expr.src), err)
	}
	return nil
}

// CheckKnown applies the template's check (see WithCheck) to each value
// whose expression reads only top-level names known accepts, evaluated in
// env: at validate time, what the inventory and the params already give.
// A value that cannot be had yet (nil, an error) is left to Render.
func (t *Template) CheckKnown(env *Env, known func(root string) bool) []*Error {
	if t == nil || t.check == nil {
		return nil
	}
	var out []*Error
	for _, p := range t.parts {
		if p.expr == nil || !p.expr.ReadsOnly(known) {
			continue
		}
		v, err := p.expr.Eval(env)
		if err != nil || v == nil {
			continue
		}
		text, ok := v.(string)
		if !ok || t.mode == Shell {
			var b strings.Builder
			if t.write(&b, v, p.raw) != nil {
				continue
			}
			text = b.String()
		}
		var ee *Error
		if err := t.checkPart(p, text); errors.As(err, &ee) {
			out = append(out, ee)
		}
	}
	return out
}
