package openfootball

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/sdk/source"
)

// Any bytes as a league file: an error or rejects, never a panic, and every
// match it does give is well formed.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"2023-24/en.1.json", "2022-23/de.1.json"} {
		b, err := os.ReadFile(filepath.Join(shipped, filepath.FromSlash(name)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 2000)])
	}
	f.Add([]byte(`{"matches": [{"date": "2024-02-30", "time": "25:00", "team1": "A FC", "team2": "FC", "score": {"ft": [-1, 2]}}]}`))
	src, err := New(context.Background(), env(f, map[string]any{"dir": shipped}))
	if err != nil {
		f.Fatal(err)
	}
	s := src.(*Source)
	s.log = nil
	f.Fuzz(func(t *testing.T, b []byte) {
		var out source.FetchResponse
		if err := s.parse(file{league: "en.1", competition: "E0", season: "2324"}, b, &out); err != nil {
			return
		}
		for _, m := range out.Matches {
			if m.ID == "" || m.HomeTeam == "" || m.AwayTeam == "" || m.HomeTeam == m.AwayTeam || m.Kickoff.Location() != time.UTC {
				t.Fatalf("malformed match %+v", m)
			}
		}
		if len(out.Files) != 1 {
			t.Fatalf("%d files", len(out.Files))
		}
	})
}
