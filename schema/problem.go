package schema

import (
	"fmt"
	"sort"
)

// Problem is one thing wrong in a plan or inventory file, at the place the
// operator must edit.
type Problem struct {
	File string `json:"file"`
	// Line and Col are 1-based; 0 when the problem has no place in a file
	// (a command-line flag, an unreadable file).
	Line int `json:"line"`
	Col  int `json:"col"`
	// Path names the value in the document the way a person reads it,
	// e.g. phases[0].steps[2].with.command; empty for the document itself.
	Path string `json:"path"`
	Msg  string `json:"msg"`
}

// String renders the problem as FILE:LINE:COL: PATH: MSG, the form editors and
// terminals turn into a link. The path is left out for the whole document.
//
// A problem without a position (Line 0: a command-line flag, an unreadable
// file) leaves out LINE:COL.
func (p Problem) String() string {
	where := p.File
	if p.Line > 0 {
		where = fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	}
	if p.Path == "" {
		return fmt.Sprintf("%s: %s", where, p.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", where, p.Path, p.Msg)
}

// SortProblems orders problems by file, line and column (then message and
// path, so the order is stable) and drops repeats: the same message at the
// same place is one mistake, even when an alias or a merge key makes it appear
// under several paths.
func SortProblems(ps []Problem) []Problem {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		switch {
		case a.File != b.File:
			return a.File < b.File
		case a.Line != b.Line:
			return a.Line < b.Line
		case a.Col != b.Col:
			return a.Col < b.Col
		case a.Msg != b.Msg:
			return a.Msg < b.Msg
		}
		return a.Path < b.Path
	})
	out := ps[:0]
	for _, p := range ps {
		if n := len(out); n > 0 && samePlace(p, out[n-1]) && p.Msg == out[n-1].Msg {
			continue
		}
		out = append(out, p)
	}
	return out
}

func samePlace(a, b Problem) bool {
	return a.File == b.File && a.Line == b.Line && a.Col == b.Col
}
