package cli

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/pgtest"
	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
)

// An ingest killed half-way (the host process and its plugin, as a crash or
// an OOM kill would) keeps the files it finished, and the next ingest
// completes the run with nothing duplicated: files are committed one at a
// time as they stream in, and applying a file again changes nothing.
func TestAnIngestKilledHalfWayResumes(t *testing.T) {
	release := make(chan struct{})
	publisher := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/") // mmz4281/2223/E1.csv
		if parts[1] == "2223" && parts[2] == "E1.csv" {                  // the third of four files waits
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		http.ServeFile(w, r, filepath.Join(testbin.Data(), strings.TrimSuffix(parts[2], ".csv"), parts[1]+".csv"))
	}))
	defer publisher.Close()

	dir := t.TempDir()
	bin := testbin.Plugin(t, "source", "footballdata")
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
log: {level: warn}
store: {driver: postgres, dsn: %s}
ingest: {expectations: %s}
plugins:
  footballdata:
    kind: source
    path: %s
    sha256: %s
    config: {base_url: %s}
sources: [{plugin: footballdata, competitions: [E0, E1], seasons: ["2223", "2324"]}]
`, testbin.Quote(filepath.Join(dir, "var")), testbin.Quote(pgtest.Schema(t)), testbin.Quote(testbin.Expectations()),
		testbin.Quote(bin), testbin.Digest(t, bin), publisher.URL)), 0o644)

	count := func() int {
		code, out, _ := run(t, nil, "matches", "--config", cfg, "--limit", "100000")
		if code != 0 {
			t.Fatalf("matches: %d\n%s", code, out)
		}
		return strings.Count(out, " e0-") + strings.Count(out, " e1-")
	}
	p := startProcess(t, "", "ingest", "--config", cfg)
	for deadline := time.Now().Add(60 * time.Second); count() != 760; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the first two files (E0 2022/23, 2023/24) were not committed while the third waited: %d matches\n%s\n%s", count(), p.stdout.String(), p.stderr.String())
		}
	}
	p.kill() // SIGKILL to the host's process group, mid-fetch
	if n := count(); n != 760 {
		t.Fatalf("%d matches after the kill, want the 760 of the two finished files", n)
	}

	close(release) // the publisher answers from now on
	code, out, errs := run(t, nil, "ingest", "--config", cfg)
	if code != 0 || !strings.Contains(out, "4 files, 1864 rows read, 1104 loaded, 0 updated, 760 unchanged, 0 quarantined") {
		t.Fatalf("the ingest after the kill: %d\n%s\n%s", code, out, errs)
	}
	if n := count(); n != 1864 {
		t.Fatalf("%d matches after resuming, want 1864", n)
	}
	code, out, _ = run(t, nil, "ingest", "history", "--config", cfg)
	if code != 0 || !strings.Contains(out, "incomplete") {
		t.Fatalf("ingest history does not show the killed run as incomplete: %d\n%s", code, out)
	}
}
