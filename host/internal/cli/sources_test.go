package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
)

// twoSources writes a config with football-data.co.uk's files and
// openfootball's for the same four league seasons, the sources in order.
func twoSources(t *testing.T, order ...string) string {
	t.Helper()
	dir := t.TempDir()
	fd, of := testbin.Plugin(t, "source", "footballdata"), testbin.PluginIn(t, "source", "openfootball", "openfootball")
	for name, bin := range map[string]string{"footballdata": fd, "openfootball": of} {
		os.WriteFile(filepath.Join(dir, name+".sha256"), []byte(testbin.Digest(t, bin)+"  "+filepath.Base(bin)+"\n"), 0o644)
	}
	var sources strings.Builder
	for _, s := range order {
		fmt.Fprintf(&sources, "  - {plugin: %s, competitions: [E0, D1], seasons: [\"2223\", \"2324\"]}\n", s)
	}
	cfg := fmt.Sprintf(`data_dir: %s
log: {level: warn}
ingest: {expectations: %s}
plugins:
  footballdata:
    kind: source
    path: %s
    sha256_file: %s
    config: {dir: %s}
  openfootball:
    kind: source
    path: %s
    sha256_file: %s
    config: {dir: %s, strict_teams: true}
sources:
%s`, testbin.Quote(filepath.Join(dir, "var")), testbin.Quote(testbin.Expectations()),
		testbin.Quote(fd), testbin.Quote(filepath.Join(dir, "footballdata.sha256")), testbin.Quote(testbin.Data()),
		testbin.Quote(of), testbin.Quote(filepath.Join(dir, "openfootball.sha256")), testbin.Quote(filepath.Join(testbin.Root(), "data", "openfootball")),
		sources.String())
	path := filepath.Join(dir, "config.yaml")
	os.WriteFile(path, []byte(cfg), 0o644)
	return path
}

// Two sources of the same matches, under different club names and in
// different time zones, are one set of matches: the openfootball plugin's
// alias table gives its clubs football-data.co.uk's names, so both sources
// give every match the same ID, and the second source only fills what the
// first lacks.
func TestTwoSourcesAreOneSetOfMatches(t *testing.T) {
	t.Run("football-data first", func(t *testing.T) {
		cfg := twoSources(t, "footballdata", "openfootball")
		code, out, errs := run(t, nil, "ingest", "--config", cfg)
		if code != 0 || !strings.Contains(out, "footballdata: 4 files, 1372 rows read, 1372 loaded") ||
			!strings.Contains(out, "openfootball: 4 files, 1372 rows read, 0 loaded, 0 updated, 1372 unchanged, 0 quarantined") {
			t.Fatalf("ingest: %d\n%s\n%s", code, out, errs)
		}
		code, out, _ = run(t, nil, "matches", "--config", cfg, "--competition", "D1", "--season", "2324", "--limit", "1000")
		if code != 0 || strings.Count(out, "d1-2324-") != 306 || !strings.Contains(out, "d1-2324-werder-bremen-v-bayern-munich") {
			t.Fatalf("matches: %d, %d D1 2023/24 matches\n%s", code, strings.Count(out, "d1-2324-"), out)
		}
	})
	t.Run("openfootball first", func(t *testing.T) {
		cfg := twoSources(t, "openfootball", "footballdata")
		code, out, errs := run(t, nil, "ingest", "--config", cfg)
		// football-data adds its prices to every match; openfootball's kick-offs stand.
		if code != 0 || !strings.Contains(out, "openfootball: 4 files, 1372 rows read, 1372 loaded") ||
			!strings.Contains(out, "footballdata: 4 files, 1372 rows read, 0 loaded, 1372 updated, 0 unchanged") {
			t.Fatalf("ingest: %d\n%s\n%s", code, out, errs)
		}
		code, out, _ = run(t, nil, "matches", "--config", cfg, "--competition", "E0", "--season", "2324", "--limit", "1000")
		if code != 0 || strings.Count(out, "e0-2324-") != 380 {
			t.Fatalf("matches: %d, %d E0 2023/24 matches\n%s", code, strings.Count(out, "e0-2324-"), out)
		}
		code, out, _ = run(t, nil, "ingest", "--config", cfg)
		if code != 0 || strings.Count(out, "0 loaded, 0 updated, 1372 unchanged") != 2 {
			t.Fatalf("a second ingest of both: %d\n%s", code, out)
		}
	})
}
