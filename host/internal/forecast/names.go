package forecast

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLength bounds team, competition and bookmaker names, in bytes: the
// longest club name in the shipped data is 24; suggestions for an unknown
// name are computed only within this bound, so they cost microseconds.
const MaxNameLength = 100

// checkName applies the name policy: at most MaxNameLength bytes of valid
// UTF-8 without control characters (NUL included, which no store takes).
func checkName(field, v string) error {
	if len(v) > MaxNameLength {
		return fmt.Errorf("%w: %s: %d bytes long; names are at most %d", ErrBadInput, field, len(v), MaxNameLength)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%w: %s: not valid UTF-8", ErrBadInput, field)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %s: holds the control character %U", ErrBadInput, field, r)
		}
	}
	return nil
}

// Closest returns up to n known names nearest to name (case-insensitive edit
// distance, ties alphabetical), for "did you mean".
func Closest(name string, known []string, n int) []string {
	type cand struct {
		name string
		d    int
	}
	cs := make([]cand, len(known))
	for i, k := range known {
		q, c := strings.ToLower(name), strings.ToLower(k)
		d := distance(q, c)
		switch {
		case strings.Contains(c, q) || strings.Contains(q, c):
			d = min(d, 1)
		case subsequence(q, c): // abbreviations: "man utd" in "man united"
			d--
		}
		cs[i] = cand{k, d}
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].d != cs[j].d {
			return cs[i].d < cs[j].d
		}
		return cs[i].name < cs[j].name
	})
	var out []string
	for _, c := range cs[:min(n, len(cs))] {
		out = append(out, c.name)
	}
	return out
}

func subsequence(q, s string) bool {
	i := 0
	for _, r := range s {
		if i < len(q) && rune(q[i]) == r {
			i++
		}
	}
	return i == len(q)
}

func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
