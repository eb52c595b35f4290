package footballdata

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkParseSeason parses one modern Premier League season file (106 columns, 380 rows).
func BenchmarkParseSeason(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(shipped, "E0", "2324.csv"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := parseSeason("E0/2324.csv", "2324", data); err != nil {
			b.Fatal(err)
		}
	}
}
