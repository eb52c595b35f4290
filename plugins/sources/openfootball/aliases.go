package openfootball

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

//go:embed aliases.json
var builtinAliases []byte

// aliases maps, per competition, a publisher's club name to the canonical
// one (football-data.co.uk's), so one club from two sources is one team and
// soccer.MatchID gives both sources the same IDs.
type aliases map[string]map[string]string

type aliasFile struct {
	Tables []struct {
		Competitions []string          `json:"competitions"`
		Teams        map[string]string `json:"teams"`
	} `json:"tables"`
}

// loadAliases reads the built-in table, then the operator's file (same
// layout) on top of it when one is given.
func loadAliases(extra string) (aliases, error) {
	a := aliases{}
	if err := a.add(builtinAliases, "the built-in table"); err != nil {
		return nil, err
	}
	if extra != "" {
		b, err := os.ReadFile(extra)
		if err != nil {
			return nil, fmt.Errorf("aliases: %w", err)
		}
		if err := a.add(b, extra); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (a aliases) add(b []byte, name string) error {
	var f aliasFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("aliases: %s: %w", name, err)
	}
	for i, t := range f.Tables {
		if len(t.Competitions) == 0 {
			return fmt.Errorf("aliases: %s: table %d names no competitions", name, i)
		}
		for _, c := range t.Competitions {
			if a[c] == nil {
				a[c] = map[string]string{}
			}
			for from, to := range t.Teams {
				if strings.TrimSpace(to) == "" {
					return fmt.Errorf("aliases: %s: %q maps to an empty name", name, from)
				}
				a[c][from] = to
			}
		}
	}
	return nil
}

// canonical returns the name to store for a club, and whether the table
// knew it (a name it did not know is only stripped of FC, AFC, CF or SC).
func (a aliases) canonical(competition, name string) (string, bool) {
	name = strings.Join(strings.Fields(name), " ")
	if to, ok := a[competition][name]; ok {
		return to, true
	}
	words := strings.Fields(name)
	affix := func(w string) bool { return w == "FC" || w == "AFC" || w == "CF" || w == "SC" }
	if len(words) > 1 && affix(words[len(words)-1]) {
		words = words[:len(words)-1]
	}
	if len(words) > 1 && affix(words[0]) {
		words = words[1:]
	}
	return strings.Join(words, " "), false
}
