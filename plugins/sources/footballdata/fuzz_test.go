package footballdata

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseSeason feeds the season parser arbitrary bytes, seeded with real
// files (heads of them, to keep runs fast) and their known quirks: it must
// never panic, and every data row it counts is either a match or a reject
// naming its file and line.
func FuzzParseSeason(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(shipped, "*", "*.csv"))
	for i, p := range files {
		if i%5 != 0 {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		lines := strings.SplitAfterN(string(b), "\n", 8)
		f.Add([]byte(strings.Join(lines[:len(lines)-1], "")))
	}
	f.Add([]byte("\xef\xbb\xbfDiv,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR\nE0,17/08/2024,Arsenal,Chelsea,2,1,H\n,,,,,,\n"))
	f.Add([]byte("Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR,PSH,PSD,PSA\nE0,17/08/24,Arsenal,Chelsea,x,1,H,0.5,3,4\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseSeason("E0.csv", "2425", data)
		if err != nil {
			return
		}
		if len(got.matches)+len(got.rejects) != got.rows {
			t.Fatalf("%d rows became %d matches and %d rejects", got.rows, len(got.matches), len(got.rejects))
		}
		for _, r := range got.rejects {
			if r.File != "E0.csv" || r.Line < 1 || r.Message == "" {
				t.Fatalf("reject %+v does not say where and why", r)
			}
		}
	})
}
