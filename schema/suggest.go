package schema

import (
	"sort"
	"strings"
)

// Suggest returns the candidate closest to name, for a "did you mean" hint, or
// "" when none is close enough to be a likely typo. A difference in case alone
// always matches; otherwise the edit distance (a swap of two neighbouring
// letters counting as one edit) must be at most a third of the name's length,
// and at least one edit is always tolerated. Ties go to the alphabetically
// first candidate so the hint is stable from run to run.
func Suggest(name string, candidates []string) string {
	if name == "" || len(candidates) == 0 {
		return ""
	}
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	lower := strings.ToLower(name)
	for _, c := range sorted {
		if c != name && strings.ToLower(c) == lower {
			return c
		}
	}
	limit := max(1, len([]rune(name))/3)
	best, bestDist := "", limit+1
	for _, c := range sorted {
		if c == name {
			continue
		}
		if d := editDistance(lower, strings.ToLower(c), bestDist); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance between a and b: the
// insertions, deletions, substitutions and transpositions of adjacent runes
// that turn a into b. It gives up (returning limit) once the distance cannot
// stay below limit, which keeps long unrelated names cheap.
func editDistance(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d >= limit || -d >= limit {
		return limit
	}
	// Three rows: the one before last is needed for transpositions.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= limit {
			return limit
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(rb)], limit)
}
