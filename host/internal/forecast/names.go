package forecast

import (
	_ "embed"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/soccerpredict/soccerpredict/host/internal/fault"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

//go:embed aliases.yaml
var aliasFile []byte

// names is the alias table, folded: competition name → code, and per
// competition, team alias → canonical name.
type names struct {
	competitions map[string]string
	titles       map[string]string // code -> the name people know it by
	teams        map[string]map[string]string
}

var aliasTable = sync.OnceValue(func() names {
	var raw struct {
		Competitions map[string][]string            `yaml:"competitions"`
		Teams        map[string]map[string][]string `yaml:"teams"`
	}
	if err := yaml.Unmarshal(aliasFile, &raw); err != nil {
		panic("forecast: aliases.yaml: " + err.Error()) // embedded and tested: cannot happen in a build
	}
	n := names{competitions: map[string]string{}, titles: map[string]string{}, teams: map[string]map[string]string{}}
	for code, as := range raw.Competitions {
		if len(as) > 0 {
			n.titles[code] = as[0]
		}
		for _, a := range as {
			n.competitions[fold(a)] = code
		}
	}
	for comp, teams := range raw.Teams {
		m := map[string]string{}
		for canonical, as := range teams {
			for _, a := range as {
				m[fold(a)] = canonical
			}
		}
		n.teams[comp] = m
	}
	return n
})

// fold is how names are compared: case-insensitive, full stops dropped,
// runs of spaces as one.
func fold(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(strings.ToLower(s), ".", "")), " ")
}

// resolveCompetition finds the competition code a caller means: the code
// itself in any case, or a name from the alias table.
func resolveCompetition(name string, known func(string) bool, codes []string) (string, bool) {
	if known(name) {
		return name, true
	}
	f := fold(name)
	for _, c := range codes {
		if fold(c) == f {
			return c, true
		}
	}
	if c, ok := aliasTable().competitions[f]; ok && known(c) {
		return c, true
	}
	return "", false
}

// CompetitionCode is the code a competition name means without a store to
// ask: a name from the alias table ("premier league" → E0), else the name
// upper-cased (codes are upper case: "e0" → E0).
func CompetitionCode(name string) string {
	if c, ok := aliasTable().competitions[fold(name)]; ok {
		return c
	}
	return strings.ToUpper(strings.TrimSpace(name))
}

// resolveTeam finds the canonical team a caller means among a
// competition's known teams: the name in any case, or an alias.
func resolveTeam(comp, name string, known []string) (string, bool) {
	for _, k := range known {
		if k == name {
			return k, true
		}
	}
	f := fold(name)
	for _, k := range known {
		if fold(k) == f {
			return k, true
		}
	}
	if c, ok := aliasTable().teams[comp][f]; ok {
		for _, k := range known {
			if k == c {
				return k, true
			}
		}
	}
	return "", false
}

// suggest returns up to n canonical teams a misspelt name may mean,
// nearest first: a team is as near as its closest name (its own or an
// alias), and only names within a third of the name's length (at least 2
// edits) are offered, so "Arsenl" suggests Arsenal alone.
func suggest(comp, name string, known []string, n int) []string {
	all := append([]string(nil), known...)
	canonical := map[string]string{}
	for _, k := range known {
		canonical[k] = k
	}
	for alias, c := range aliasTable().teams[comp] {
		if _, ok := canonical[c]; ok && canonical[alias] == "" {
			all = append(all, alias)
			canonical[alias] = c
		}
	}
	limit := max(2, utf8.RuneCountInString(name)/3)
	best := map[string]int{}
	for _, c := range Closest(name, all, len(all)) {
		d := nameDistance(fold(name), fold(c))
		if d > limit {
			continue
		}
		if prev, ok := best[canonical[c]]; !ok || d < prev {
			best[canonical[c]] = d
		}
	}
	out := make([]string, 0, len(best))
	for c := range best {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if best[out[i]] != best[out[j]] {
			return best[out[i]] < best[out[j]]
		}
		return out[i] < out[j]
	})
	return out[:min(n, len(out))]
}

// MaxNameLength bounds team, competition and bookmaker names, in bytes: the
// longest club name in the shipped data is 24; suggestions for an unknown
// name are computed only within this bound, so they cost microseconds.
const MaxNameLength = 100

// checkName applies the name policy: at most MaxNameLength bytes of valid
// UTF-8 without control characters (NUL included, which no store takes).
func checkName(field, v string) error {
	if len(v) > MaxNameLength {
		return fault.Field(fault.Invalid, field, "%d bytes long; names are at most %d", len(v), MaxNameLength)
	}
	if !utf8.ValidString(v) {
		return fault.Field(fault.Invalid, field, "not valid UTF-8")
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return fault.Field(fault.Invalid, field, "holds the control character %U", r)
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
		cs[i] = cand{k, nameDistance(strings.ToLower(name), strings.ToLower(k))}
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

// nameDistance is the edit distance of two lowercased names, with a
// containment counted as one edit and an abbreviation ("man utd" in
// "man united") as one less.
func nameDistance(q, c string) int {
	d := distance(q, c)
	switch {
	case strings.Contains(c, q) || strings.Contains(q, c):
		d = min(d, 1)
	case subsequence(q, c):
		d--
	}
	return d
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

// bookmakerCodes are the bookmakers a request may name, as listed to a
// caller who names another: the benchmark first, then the rest
// alphabetically (VC before BV, its successor code, so "BetVictor" is VC).
var bookmakerCodes = []string{"PS", "B365", "BF", "BFE", "BMGM", "BS", "BW", "CL", "GB", "IW", "LB", "SB", "SJ", "SO", "VC", "BV", "WH", "1XB", "Max", "Avg"}

// bookmakerIndex maps each code and name as a slug ("ps", "pinnacle",
// "william-hill", and without dashes "williamhill") and a few other names
// people use to its code; an earlier code wins a name two share.
var bookmakerIndex = sync.OnceValue(func() map[string]string {
	idx := map[string]string{"pinnacle-sports": "PS", "pinnacle-sportsbook": "PS", "bet-365": "B365", "bwin": "BW",
		"bet-and-win": "BW", "betandwin": "BW", "one-x-bet": "1XB", "1x-bet": "1XB", "average": "Avg", "market-average": "Avg",
		"maximum": "Max", "best": "Max", "best-price": "Max"}
	for i := len(bookmakerCodes) - 1; i >= 0; i-- {
		c := bookmakerCodes[i]
		name := soccer.Slug(soccer.BookmakerName(c))
		for _, k := range []string{soccer.Slug(c), name, strings.ReplaceAll(name, "-", "")} {
			idx[k] = c
		}
	}
	return idx
})

// resolveBookmaker is the code of a bookmaker as people write it: a code
// or a name in any case, spaces and punctuation aside ("ps", "Pinnacle",
// "bet365", "William Hill", "betvictor"); ok is false for one it does not know.
func resolveBookmaker(name string) (string, bool) {
	want := soccer.Slug(name)
	if want == "" {
		return "", false
	}
	idx := bookmakerIndex()
	if c, ok := idx[want]; ok {
		return c, true
	}
	c, ok := idx[strings.ReplaceAll(want, "-", "")]
	return c, ok
}

// knownBookmakers lists the bookmakers a request may name as "Name (CODE)".
func knownBookmakers() []string {
	out := make([]string, 0, len(bookmakerCodes))
	for _, c := range bookmakerCodes {
		if n := soccer.BookmakerName(c); !strings.HasPrefix(n, "the ") {
			out = append(out, n+" ("+c+")")
		}
	}
	return out
}
