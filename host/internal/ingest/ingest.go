// Package ingest carries matches from a source plugin into the match store
// through the data contract: each source file is one batch, validated against
// the expectation suite, with failing and unreadable rows quarantined and the
// rest upserted in one transaction. A GE validation result is written per
// batch, and the run is recorded in the store.
package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/contract"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/source"
)

// Source is one configured source to ingest.
type Source struct {
	Name    string
	Source  source.Source
	Request source.FetchRequest
}

// Progress is told about each batch done; the CLI draws a bar on terminals.
type Progress interface {
	Start(total int, what string)
	Add(n int)
	Finish()
}

// Runner ingests sources.
type Runner struct {
	Store store.Store
	Suite contract.Suite
	// ValidationDir receives one GE validation result per batch, under
	// {ValidationDir}/{run id}/{source}/{file}.json.
	ValidationDir string
	Logger        hclog.Logger
	Progress      Progress // nil: no progress display
}

// Summary is what one ingest of one source did.
type Summary struct {
	RunID         string
	Source        string
	Files         int
	Read          int
	Applied       store.Applied
	Unreadable    int
	FailedBatches int // batches with at least one failed expectation
	Validations   string
}

func (s Summary) String() string {
	return fmt.Sprintf("%s: %d files, %d rows read, %d loaded, %d updated, %d unchanged, %d quarantined (%d unreadable)",
		s.Source, s.Files, s.Read, s.Applied.Loaded, s.Applied.Updated, s.Applied.Unchanged, s.Applied.Quarantined, s.Unreadable)
}

// NewRunID makes a sortable, unique run ID.
func NewRunID(now time.Time) string {
	b := make([]byte, 3)
	rand.Read(b)
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// Run ingests one source. A fetch that fails (a plugin that dies, a file that
// cannot be read) loads nothing from that source; a batch that fails to write
// leaves the batches before it committed and is reported.
func (r Runner) Run(ctx context.Context, src Source) (Summary, error) {
	logger := r.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	started := time.Now()
	sum := Summary{RunID: NewRunID(started), Source: src.Name}
	run := store.IngestRun{ID: sum.RunID, Source: src.Name, StartedAt: started, FinishedAt: started, Error: "incomplete"}
	if err := r.Store.RecordRun(ctx, run); err != nil {
		return sum, err
	}
	finish := func(err error) (Summary, error) {
		run.FinishedAt, run.Files, run.Read, run.Applied, run.Error = time.Now(), sum.Files, sum.Read, sum.Applied, ""
		if err != nil {
			run.Error = err.Error()
		}
		// Record the outcome even when ctx was cancelled mid-run.
		if rerr := r.Store.RecordRun(context.WithoutCancel(ctx), run); rerr != nil && err == nil {
			err = rerr
		}
		return sum, err
	}

	logger.Info("fetching", "source", src.Name, "competitions", src.Request.Competitions, "seasons", src.Request.Seasons)
	resp, err := src.Source.Fetch(ctx, src.Request)
	if err != nil {
		return finish(fmt.Errorf("ingest %s: %w", src.Name, err))
	}
	batches := group(resp)
	sum.Files = len(batches)
	if r.ValidationDir != "" {
		sum.Validations = filepath.Join(r.ValidationDir, sum.RunID)
	}
	if r.Progress != nil {
		r.Progress.Start(len(batches), "ingest "+src.Name)
		defer r.Progress.Finish()
	}
	for _, b := range batches {
		if err := ctx.Err(); err != nil {
			return finish(fmt.Errorf("ingest %s: stopped before %s: %w", src.Name, b.file.Name, err))
		}
		applied, failed, err := r.batch(ctx, sum, b)
		if err != nil {
			return finish(fmt.Errorf("ingest %s: %w", src.Name, err))
		}
		sum.Read += b.file.Rows
		sum.Applied = sum.Applied.Add(applied)
		sum.Unreadable += len(b.rejects)
		if failed {
			sum.FailedBatches++
		}
		if r.Progress != nil {
			r.Progress.Add(1)
		}
		logger.Debug("batch applied", "file", b.file.Name, "loaded", applied.Loaded, "updated", applied.Updated, "quarantined", applied.Quarantined)
	}
	return finish(nil)
}

type fileBatch struct {
	file    source.File
	matches []soccer.Match
	rejects []source.Reject
}

// group splits a fetch into one batch per file, in the order the source read them.
func group(resp source.FetchResponse) []*fileBatch {
	var out []*fileBatch
	byName := map[string]*fileBatch{}
	get := func(name string) *fileBatch {
		if b, ok := byName[name]; ok {
			return b
		}
		b := &fileBatch{file: source.File{Name: name}}
		byName[name] = b
		out = append(out, b)
		return b
	}
	for _, f := range resp.Files {
		get(f.Name).file = f
	}
	for _, m := range resp.Matches {
		name := m.Origin
		if i := strings.LastIndexByte(name, ':'); i > 0 {
			name = name[:i]
		}
		b := get(name)
		b.matches = append(b.matches, m)
	}
	for _, rj := range resp.Rejects {
		b := get(rj.File)
		b.rejects = append(b.rejects, rj)
	}
	for _, b := range out {
		if b.file.Rows == 0 {
			b.file.Rows = len(b.matches) + len(b.rejects)
		}
	}
	return out
}

func (r Runner) batch(ctx context.Context, sum Summary, b *fileBatch) (store.Applied, bool, error) {
	tbl := Table(b.matches)
	outcome := r.Suite.Validate(tbl, map[string]any{"run_id": sum.RunID, "source": sum.Source,
		"batch": b.file.Name, "batch_sha256": b.file.SHA256})
	batch := store.Batch{RunID: sum.RunID, Source: sum.Source, File: b.file}
	for i, m := range b.matches {
		if !outcome.Failed(i) {
			batch.Matches = append(batch.Matches, m)
			continue
		}
		raw, _ := json.Marshal(m)
		batch.Quarantine = append(batch.Quarantine, store.QuarantinedRow{File: b.file.Name, Line: line(m.Origin), MatchID: m.ID,
			Reasons: outcome.Failures[i], Raw: string(raw)})
	}
	for _, rj := range b.rejects {
		batch.Quarantine = append(batch.Quarantine, store.QuarantinedRow{File: rj.File, Line: rj.Line,
			Reasons: []string{"unreadable: " + rj.Error()}, Raw: rj.Raw})
	}
	if r.ValidationDir != "" {
		if err := writeResult(filepath.Join(sum.Validations, sum.Source, b.file.Name+".json"), outcome.Result); err != nil {
			return store.Applied{}, false, err
		}
	}
	applied, err := r.Store.Apply(ctx, batch)
	if err != nil {
		return store.Applied{}, false, err
	}
	return applied, !outcome.Result.Success, nil
}

func writeResult(path string, res contract.Result) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("validation result: %w", err)
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("validation result: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("validation result: %w", err)
	}
	return os.Rename(tmp, path)
}

func line(origin string) int {
	i := strings.LastIndexByte(origin, ':')
	if i < 0 {
		return 0
	}
	n := 0
	fmt.Sscan(origin[i+1:], &n)
	return n
}

// Columns are the columns of the table the data contract sees.
var Columns = []string{"match_id", "competition", "season", "kickoff", "home_team", "away_team", "status",
	"home_goals", "away_goals", "result", "min_odds", "odds_count"}

// Table turns matches into the records the data contract evaluates.
func Table(ms []soccer.Match) contract.Table {
	t := contract.Table{Columns: Columns, Rows: make([]map[string]any, len(ms))}
	for i, m := range ms {
		r := map[string]any{
			"match_id": nullable(m.ID), "competition": nullable(m.Competition), "season": nullable(m.Season),
			"home_team": nullable(m.HomeTeam), "away_team": nullable(m.AwayTeam), "status": nullable(string(m.Status)),
			"kickoff": nil, "home_goals": nil, "away_goals": nil, "result": nil, "min_odds": nil, "odds_count": len(m.Odds),
		}
		if !m.Kickoff.IsZero() {
			r["kickoff"] = m.Kickoff.UTC().Format(time.RFC3339)
		}
		if m.Status == soccer.Finished {
			r["home_goals"], r["away_goals"], r["result"] = m.HomeGoals, m.AwayGoals, nullable(string(m.Result))
		}
		for _, o := range m.Odds {
			for _, p := range []float64{o.Home, o.Draw, o.Away} {
				if cur, ok := r["min_odds"].(float64); !ok || p < cur {
					r["min_odds"] = p
				}
			}
		}
		t.Rows[i] = r
	}
	return t
}

func nullable(s string) any {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return s
}
