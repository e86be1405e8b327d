package load

import (
	"fmt"
	"sort"

	"github.com/zdu-dev/zdu/engine/spec"
	"github.com/zdu-dev/zdu/schema"
)

// Problems collects positioned problems for one file.
type Problems struct {
	File string
	List []schema.Problem
	// looked counts the candidate names suggestions have looked at.
	looked int
}

// suggestBudget bounds the did-you-mean work for one file's problems, in
// candidate names looked at. A suggestion compares a name with every
// candidate, so thousands of mistakes among thousands of names (a generated
// plan gone wrong) would make the check quadratic; past the budget,
// problems come without a suggestion.
const suggestBudget = 200_000

// suggest is " (did you mean %q?)" with the candidate closest to name, or
// "". candidates is called only while the budget lasts.
func (p *Problems) suggest(name string, candidates func() []string) string {
	if !p.canSuggest() {
		return ""
	}
	c := candidates()
	p.looked += len(c) + 1
	return suggest(name, c)
}

// canSuggest says whether the suggestion budget lasts.
func (p *Problems) canSuggest() bool { return p.looked < suggestBudget }

// spend charges n candidate names looked at elsewhere (an expression's
// did-you-mean).
func (p *Problems) spend(n int) { p.looked += n }

// At records a problem at pos.
func (p *Problems) At(pos spec.Pos, path, format string, args ...any) {
	p.List = append(p.List, schema.Problem{
		File: p.File, Line: pos.Line, Col: pos.Col, Path: path, Msg: fmt.Sprintf(format, args...),
	})
}

// Add appends problems found elsewhere (e.g. by the schema).
func (p *Problems) Add(ps ...schema.Problem) { p.List = append(p.List, ps...) }

// Sorted returns the problems ordered by file, line and column, without repeats.
func Sorted(ps []schema.Problem) []schema.Problem {
	out := append([]schema.Problem(nil), ps...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	dedup := out[:0]
	for i, p := range out {
		if i > 0 && p == out[i-1] {
			continue
		}
		dedup = append(dedup, p)
	}
	return dedup
}

// Error is a load failure: every problem found, in order.
type Error struct {
	Problems []schema.Problem
}

func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0].String()
	}
	s := fmt.Sprintf("%d problems:", len(e.Problems))
	for _, p := range e.Problems {
		s += "\n" + p.String()
	}
	return s
}
