package synth

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A season is a double round robin (each ordered pair once), prices are
// above 1 and carry a margin, and the same seed writes the same bytes.
func TestCorpusIsARealisticLeague(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	n, err := Write(a, 9880, 7, Compact, nil)
	if err != nil || n != 9880 {
		t.Fatalf("%d matches, %v", n, err)
	}
	if _, err := Write(b, 9880, 7, Compact, nil); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(a, "S001", "*.csv"))
	if len(files) != Seasons {
		t.Fatalf("%d season files", len(files))
	}
	home := 0
	for _, f := range files {
		x, _ := os.ReadFile(f)
		y, _ := os.ReadFile(filepath.Join(b, "S001", filepath.Base(f)))
		if !bytes.Equal(x, y) {
			t.Fatalf("%s differs between two runs with one seed", f)
		}
		rows, err := csv.NewReader(bytes.NewReader(x)).ReadAll()
		if err != nil || len(rows) != MatchesPerSeason+1 {
			t.Fatalf("%s: %d rows, %v", f, len(rows), err)
		}
		pairs := map[[2]string]bool{}
		for _, r := range rows[1:] {
			p := [2]string{r[3], r[4]}
			if pairs[p] || r[3] == r[4] {
				t.Fatalf("%s: %v twice or a team playing itself", f, p)
			}
			pairs[p] = true
			if r[7] == "H" {
				home++
			}
			var inv float64
			for _, c := range r[11:14] {
				v, err := strconv.ParseFloat(c, 64)
				if err != nil || v <= 1 {
					t.Fatalf("%s: price %q", f, c)
				}
				inv += 1 / v
			}
			if inv < 1.0 || inv > 1.1 {
				t.Fatalf("%s: Pinnacle's book sums to %.3f", f, inv)
			}
		}
	}
	if share := float64(home) / 9880; share < 0.38 || share > 0.52 {
		t.Errorf("home wins %.2f of matches", share)
	}
	if Plan(1_000_000) != 101 || Plan(100_000) != 10 || Plan(10) != 1 {
		t.Errorf("plans %d %d", Plan(1_000_000), Plan(10))
	}
}

// The full layout has football-data.co.uk's 106 columns in every row, the
// same bytes for the same seed, prices above 1, and a best price (Max) no
// lower than any bookmaker's.
func TestFullLayoutHasEveryColumn(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if _, err := Write(dir, 9880, 5, Full, nil); err != nil {
			t.Fatal(err)
		}
	}
	x, _ := os.ReadFile(filepath.Join(a, "S001", "2324.csv"))
	y, _ := os.ReadFile(filepath.Join(b, "S001", "2324.csv"))
	if !bytes.Equal(x, y) {
		t.Fatal("two runs with one seed differ")
	}
	rows, err := csv.NewReader(bytes.NewReader(x)).ReadAll()
	if err != nil || len(rows) != MatchesPerSeason+1 || len(rows[0]) != 106 || strings.Join(rows[0], ",") != FullHeader {
		t.Fatalf("%d rows of %d columns, %v", len(rows), len(rows[0]), err)
	}
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	for _, r := range rows[1:] {
		for _, side := range []string{"H", "D", "A", "CH", "CD", "CA"} {
			best, _ := strconv.ParseFloat(r[col["Max"+side]], 64)
			for _, bk := range []string{"B365", "BW", "IW", "PS", "WH", "VC"} {
				v, err := strconv.ParseFloat(r[col[bk+side]], 64)
				if err != nil || v <= 1 || v > best {
					t.Fatalf("%s%s %q, best %v", bk, side, r[col[bk+side]], best)
				}
			}
		}
		hs, _ := strconv.Atoi(r[col["HS"]])
		hst, _ := strconv.Atoi(r[col["HST"]])
		hg, _ := strconv.Atoi(r[col["FTHG"]])
		htg, _ := strconv.Atoi(r[col["HTHG"]])
		if hst > hs || hg > hst || htg > hg {
			t.Fatalf("home: %d shots, %d on target, %d goals, %d at half time", hs, hst, hg, htg)
		}
	}
}
