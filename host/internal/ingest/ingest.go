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
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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

// expectedFiles is how many files the source's last complete run had: how
// many a source will send is known only at the end, and the last run is the
// best guess for an ETA. -1 when there is none.
func (r Runner) expectedFiles(ctx context.Context, source string) int {
	runs, err := r.Store.Runs(ctx, 50)
	if err != nil {
		return -1
	}
	for _, run := range runs {
		if run.Source == source && run.Error == "" && !run.FinishedAt.IsZero() && run.Files > 0 {
			return run.Files
		}
	}
	return -1
}

// Progress is told about each batch done; the CLI draws a bar on terminals.
type Progress interface {
	Start(total int, what string)
	Add(n int)
	Finish()
}

// Store is what ingestion needs of the match store: to apply a batch and
// keep the record of runs.
type Store interface {
	Apply(ctx context.Context, b store.Batch) (store.Applied, error)
	RecordRun(ctx context.Context, r store.IngestRun) error
	Runs(ctx context.Context, limit int) ([]store.IngestRun, error)
}

// Runner ingests sources.
type Runner struct {
	Store Store
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
	FailedBatches int // batches with at least one row quarantined by an expectation
	// DroppedQuotes are bookmakers' quotes left out of otherwise good matches
	// because a price failed a warning expectation (the match still loads).
	DroppedQuotes int
	// DroppedStats are matches loaded without their statistics because
	// they failed a warning expectation (they contradict each other).
	DroppedStats int
	Validations  string
}

func (s Summary) String() string {
	out := fmt.Sprintf("%s: %d files, %d rows read, %d loaded, %d updated, %d unchanged, %d quarantined (%d unreadable)",
		s.Source, s.Files, s.Read, s.Applied.Loaded, s.Applied.Updated, s.Applied.Unchanged, s.Applied.Quarantined, s.Unreadable)
	if s.DroppedQuotes > 0 {
		out += fmt.Sprintf(", %d bad quotes dropped", s.DroppedQuotes)
	}
	if s.DroppedStats > 0 {
		out += fmt.Sprintf(", %d matches' contradictory statistics dropped", s.DroppedStats)
	}
	return out
}

// NewRunID makes a sortable, unique run ID.
func NewRunID(now time.Time) string {
	b := make([]byte, 3)
	rand.Read(b)
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// Run ingests one source, one file (one batch, one transaction) at a time as
// the source streams them. A fetch that fails (a plugin that dies, a file
// that cannot be read) keeps the files committed before it and nothing of
// the rest, so running the ingest again completes it without duplicating
// anything; a batch that fails to write stops the fetch and is reported.
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
	if r.ValidationDir != "" {
		sum.Validations = filepath.Join(r.ValidationDir, sum.RunID)
	}
	if r.Progress != nil {
		r.Progress.Start(r.expectedFiles(ctx, src.Name), "ingest "+src.Name)
		defer r.Progress.Finish()
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := newStreamer(r, ctx, cancel, &sum, logger)
	defer st.stop()
	if err := src.Source.Fetch(fctx, src.Request, st); err != nil {
		st.stop()
		if st.err != nil {
			err = st.err
		}
		return finish(fmt.Errorf("ingest %s: %w", src.Name, err))
	}
	// What is still open: files a source announced before their matches (or never).
	for len(st.order) > 0 && !st.failed() {
		if err := ctx.Err(); err != nil {
			st.stop()
			return finish(fmt.Errorf("ingest %s: stopped before %s: %w", src.Name, st.order[0].file.Name, err))
		}
		st.commit(st.order[0])
	}
	st.stop()
	if st.err != nil {
		return finish(fmt.Errorf("ingest %s: %w", src.Name, st.err))
	}
	return finish(nil)
}

// streamer is the Sink of an ingest: it gathers each file's matches and
// rejects and commits the file's batch once it is complete: when the source
// sends the file after its rows (as the sdk's helpers do), or, for a source
// that sends the file first, when a row of another file follows. A source
// sends one file's rows together, so an ingest holds about one file at a
// time and an interrupted one keeps every file it finished. Batches still
// open when the fetch ends are committed then, in the order they began.
//
// Committing is two steps on two goroutines: the data contract checks a
// batch as it completes, and the applier writes checked batches to the
// store one at a time, in the same order, while the next file is received
// and checked. After a write fails, nothing more is written.
type streamer struct {
	r      Runner
	ctx    context.Context
	cancel context.CancelFunc
	base   Summary // the run's identity, for the contract's meta
	logger hclog.Logger

	mu    sync.Mutex
	open  map[string]*fileBatch
	order []*fileBatch
	seen  map[string]bool // every file name met, open or committed

	checked  chan checked // to the applier
	applied  chan struct{}
	stopOnce sync.Once

	amu sync.Mutex // the applier's results, read by the fetch as it goes
	sum *Summary
	err error // the first failed commit; the fetch is cancelled
}

// checked is a batch the contract has seen, ready to write.
type checked struct {
	batch      store.Batch
	rows       int
	unreadable int  // rows the source could not read
	failed     bool // a row was quarantined by an expectation
	dropped    drops
	results    []validation // written just before the batch is applied
}

func newStreamer(r Runner, ctx context.Context, cancel context.CancelFunc, sum *Summary, logger hclog.Logger) *streamer {
	s := &streamer{r: r, ctx: ctx, cancel: cancel, base: *sum, logger: logger, open: map[string]*fileBatch{}, seen: map[string]bool{},
		checked: make(chan checked, 1), applied: make(chan struct{}), sum: sum}
	go s.apply()
	return s
}

// stop waits for the applier to write what was checked (or to skip it after
// a failure); then sum and err are final.
func (s *streamer) stop() {
	s.stopOnce.Do(func() {
		close(s.checked)
		<-s.applied
	})
}

func (s *streamer) failed() bool {
	s.amu.Lock()
	defer s.amu.Unlock()
	return s.err != nil
}

func (s *streamer) fail(err error) {
	s.amu.Lock()
	defer s.amu.Unlock()
	if s.err == nil {
		s.err = err
		s.cancel()
	}
}

// apply writes the checked batches in order, until the streamer stops.
func (s *streamer) apply() {
	defer close(s.applied)
	for c := range s.checked {
		if s.failed() {
			continue
		}
		var err error
		for _, v := range c.results {
			if err == nil {
				err = writeResult(v.path, v.result)
			}
		}
		var applied store.Applied
		if err == nil {
			applied, err = s.r.Store.Apply(s.ctx, c.batch)
		}
		if err != nil {
			s.fail(err)
			continue
		}
		s.amu.Lock()
		s.sum.DroppedQuotes += c.dropped.quotes
		s.sum.DroppedStats += c.dropped.stats
		s.sum.Files++
		s.sum.Read += c.rows
		s.sum.Applied = s.sum.Applied.Add(applied)
		s.sum.Unreadable += c.unreadable
		if c.failed {
			s.sum.FailedBatches++
		}
		s.amu.Unlock()
		if s.r.Progress != nil {
			s.r.Progress.Add(1)
		}
		s.logger.Debug("batch applied", "file", c.batch.File.Name, "loaded", applied.Loaded, "updated", applied.Updated, "quarantined", applied.Quarantined)
	}
}

// known reports whether a file of this name has been met.
func (s *streamer) known(name string) bool { return s.seen[name] }

func (s *streamer) get(name string) *fileBatch {
	if b, ok := s.open[name]; ok {
		return b
	}
	b := &fileBatch{file: source.File{Name: name}}
	s.open[name], s.seen[name] = b, true
	s.order = append(s.order, b)
	return b
}

// row finds the batch of a row of file name, first committing the other
// files that are complete.
func (s *streamer) row(name string) *fileBatch {
	for _, b := range slices.Clone(s.order) {
		if b.file.Name != name && b.announced && len(b.matches)+len(b.rejects) > 0 {
			s.commitLocked(b)
		}
	}
	return s.get(name)
}

// Match implements source.Sink.
func (s *streamer) Match(m soccer.Match) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.row(FileOf(m.Origin, s.known))
	b.matches = append(b.matches, m)
}

// Reject implements source.Sink.
func (s *streamer) Reject(rj source.Reject) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.row(rj.File)
	b.rejects = append(b.rejects, rj)
}

// File implements source.Sink.
func (s *streamer) File(f source.File) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.get(f.Name)
	b.file, b.announced = f, true
	if len(b.matches)+len(b.rejects) > 0 { // sent after its rows: complete
		s.commitLocked(b)
	}
}

func (s *streamer) commit(b *fileBatch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commitLocked(b)
}

func (s *streamer) commitLocked(b *fileBatch) {
	delete(s.open, b.file.Name)
	s.order = slices.DeleteFunc(s.order, func(o *fileBatch) bool { return o == b })
	if s.failed() {
		return
	}
	if b.file.Rows == 0 {
		b.file.Rows = len(b.matches) + len(b.rejects)
	}
	s.checked <- s.r.check(s.base, b) // the applier drains it until stop, failed or not
}

type fileBatch struct {
	file      source.File
	announced bool // the source has sent the file itself
	matches   []soccer.Match
	rejects   []source.Reject
}

// FileOf is the input a match's Origin names: "<file>:<line>" for a
// line-oriented input, "<file>[<index>]" for a list (or the file alone).
// A name the fetch listed as a file wins; else the part before the last
// colon or the first bracket.
func FileOf(origin string, known func(string) bool) string {
	colon := origin
	if i := strings.LastIndexByte(origin, ':'); i > 0 {
		colon = origin[:i]
	}
	bracket := origin
	if i := strings.IndexByte(origin, '['); i > 0 {
		bracket = origin[:i]
	}
	for _, name := range []string{origin, colon, bracket} {
		if known(name) {
			return name
		}
	}
	if colon != origin {
		return colon
	}
	return bracket
}

// check checks one file's matches against the data contract and makes the
// batch to apply: first every quoted price (the "prices" table), where a
// price that fails a warning expectation drops that bookmaker's quote from
// its match, then the matches, where a row that fails a quarantining
// expectation is held back with the reasons and one that fails a warning
// expectation loads without its statistics. It says whether any row was
// quarantined, how many quotes and statistics were dropped, and the
// validation results to write.
func (r Runner) check(sum Summary, b *fileBatch) checked {
	meta := map[string]any{"run_id": sum.RunID, "source": sum.Source, "batch": b.file.Name, "batch_sha256": b.file.SHA256}
	c := Check(r.Suite, b.matches, meta)
	out := checked{rows: b.file.Rows, unreadable: len(b.rejects), failed: len(c.Reasons) > 0, dropped: drops{quotes: c.DroppedQuotes, stats: len(c.DroppedStats)}}
	logger := r.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	for _, i := range slices.Sorted(maps.Keys(c.DroppedStats)) {
		logger.Warn("statistics contradict each other: the match loads without them", "match", c.Matches[i].ID,
			"origin", c.Matches[i].Origin, "failed", strings.Join(c.DroppedStats[i], "; "))
	}
	batch := store.Batch{RunID: sum.RunID, Source: sum.Source, File: b.file}
	for i, m := range c.Matches {
		reasons := c.Reasons[i]
		if len(reasons) == 0 {
			batch.Matches = append(batch.Matches, m)
			continue
		}
		raw, _ := json.Marshal(m) // without the quotes CheckPrices dropped (a NaN has no JSON)
		batch.Quarantine = append(batch.Quarantine, store.QuarantinedRow{File: b.file.Name, Line: line(m.Origin), MatchID: m.ID,
			Reasons: reasons, Raw: string(raw)})
	}
	for _, rj := range b.rejects {
		batch.Quarantine = append(batch.Quarantine, store.QuarantinedRow{File: rj.File, Line: rj.Line,
			Reasons: []string{"unreadable: " + rj.Error()}, Raw: rj.Raw})
	}
	out.batch = batch
	if r.ValidationDir != "" {
		out.results = append(out.results, validation{filepath.Join(sum.Validations, sum.Source, b.file.Name+".json"), c.Result})
		if c.Prices != nil {
			out.results = append(out.results, validation{filepath.Join(sum.Validations, sum.Source, b.file.Name+".prices.json"), *c.Prices})
		}
	}
	return out
}

// validation is a validation result to write, and where.
type validation struct {
	path   string
	result contract.Result
}

// LoadSuite reads the data contract and refuses expectations on a table
// ingestion does not have (a misspelt meta.table would never be evaluated).
// The prices table's expectations are a suite of their own, prices.json,
// which the matches suite names (contract.Load reads it).
func LoadSuite(path string) (contract.Suite, error) {
	s, err := contract.Load(path)
	if err != nil {
		return s, err
	}
	for _, t := range s.Tables() {
		if t != "prices" {
			return contract.Suite{}, fmt.Errorf("expectation suite %s: meta.table %q: ingestion checks the matches (no table) and \"prices\"", path, t)
		}
	}
	return s, nil
}

// drops are what the data contract took out of matches that still load.
type drops struct{ quotes, stats int }

// Checked is one batch of matches after the data contract: the matches with
// the quotes the prices table dropped, and why each quarantined one fails.
type Checked struct {
	Matches []soccer.Match
	Reasons map[int][]string // by index in Matches: the quarantined ones
	// DroppedStats are, by index in Matches, the warning expectations a
	// match failed: it loads with its result but without its statistics.
	DroppedStats  map[int][]string
	DroppedQuotes int
	Result        contract.Result  // the matches table's validation result
	Prices        *contract.Result // the prices table's (nil: the suite has no price expectations)
}

// Check runs the data contract on one batch, prices first (CheckPrices),
// then the matches: the one place ingest and the DVC validate stage decide
// what is loaded, dropped or quarantined.
func Check(s contract.Suite, ms []soccer.Match, meta map[string]any) Checked {
	matches, priceFailures, dropped, prices := CheckPrices(s, ms, meta)
	outcome := s.ForTable("").Validate(Table(matches), meta)
	c := Checked{Matches: matches, Reasons: map[int][]string{}, DroppedStats: map[int][]string{}, DroppedQuotes: dropped, Result: outcome.Result, Prices: prices}
	for i := range matches {
		if reasons := append(slices.Clone(priceFailures[i]), outcome.Failures[i]...); len(reasons) > 0 {
			c.Reasons[i] = reasons
		} else if w := outcome.Warnings[i]; len(w) > 0 {
			c.Matches[i].Stats, c.DroppedStats[i] = soccer.Stats{}, w
		}
	}
	return c
}

// PriceColumns are the columns of the prices table the data contract sees:
// one row per quoted price.
var PriceColumns = []string{"match_id", "bookmaker", "closing", "outcome", "price"}

// CheckPrices validates every price of the matches against the suite's
// "prices" expectations. A quote (a bookmaker's three prices) with a price
// that fails a warning expectation is left out of its match, which keeps
// its result and other quotes; a failed quarantining one quarantines the
// match (reasons by match index). A price that is not a number never goes
// further, whatever the suite says. The matches returned are copies.
func CheckPrices(s contract.Suite, ms []soccer.Match, meta map[string]any) ([]soccer.Match, map[int][]string, int, *contract.Result) {
	suite := s.ForTable("prices")
	t := contract.Table{Columns: PriceColumns}
	type origin struct{ match, quote int }
	n := 0
	for _, m := range ms {
		n += 3 * len(m.Odds)
	}
	// One row a price, all of them cut from one backing array.
	t.Rows = make([][]any, 0, n)
	cells := make([]any, 0, n*len(PriceColumns))
	from := make([]origin, 0, n)
	outcomes := [3]any{"home", "draw", "away"}
	for i, m := range ms {
		id := nullable(m.ID)
		for j, o := range m.Odds {
			bookmaker := nullable(o.Bookmaker)
			for k, p := range [3]float64{o.Home, o.Draw, o.Away} {
				start := len(cells)
				cells = append(cells, id, bookmaker, o.Closing, outcomes[k], finiteOrNil(p))
				t.Rows = append(t.Rows, cells[start:len(cells):len(cells)])
				from = append(from, origin{i, j})
			}
		}
	}
	outcome := suite.Validate(t, meta)
	drop := map[origin]bool{}
	for row, r := range t.Rows {
		if r[4] == nil { // the price
			drop[from[row]] = true
		}
	}
	failures := map[int][]string{}
	for row := range outcome.Warnings {
		drop[from[row]] = true
	}
	for row, reasons := range outcome.Failures {
		failures[from[row].match] = append(failures[from[row].match], reasons...)
	}
	out := make([]soccer.Match, len(ms))
	for i, m := range ms {
		out[i] = m
		if len(m.Odds) == 0 {
			continue
		}
		out[i].Odds = make([]soccer.Odds, 0, len(m.Odds))
		for j, o := range m.Odds {
			if !drop[origin{i, j}] {
				out[i].Odds = append(out[i].Odds, o)
			}
		}
	}
	for i, rs := range failures {
		slices.Sort(rs)
		failures[i] = slices.Compact(rs)
	}
	if len(suite.Expectations) == 0 {
		return out, failures, len(drop), nil
	}
	res := outcome.Result
	return out, failures, len(drop), &res
}

// finiteOrNil is a price as the contract sees it: a price that is not a
// number (a cell the source could not read) is null.
func finiteOrNil(p float64) any {
	if math.IsNaN(p) || math.IsInf(p, 0) {
		return nil
	}
	return p
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

// Columns are the columns of the table the data contract sees: the
// match, then each statistic's home_ and away_ column (null when the source
// does not have it).
var Columns = append(slices.Clip(fixedColumns), statColumns()...)

// fixedColumns are the columns before the statistics', in the order Table
// fills them.
var fixedColumns = []string{"match_id", "competition", "season", "kickoff", "home_team", "away_team", "status",
	"home_goals", "away_goals", "result", "min_odds", "odds_count"}

func statColumns() []string {
	var out []string
	for _, name := range soccer.StatNames {
		out = append(out, "home_"+name, "away_"+name)
	}
	return out
}

// Table turns matches into the records the data contract evaluates.
func Table(ms []soccer.Match) contract.Table {
	t := contract.Table{Columns: Columns, Rows: make([][]any, len(ms))}
	w := len(Columns)
	cells := make([]any, len(ms)*w) // every row's, in Columns' order: the fixed ones, then two a statistic
	for i, m := range ms {
		r := cells[i*w : (i+1)*w : (i+1)*w]
		r[0], r[1], r[2] = nullable(m.ID), nullable(m.Competition), nullable(m.Season)
		if !m.Kickoff.IsZero() {
			r[3] = m.Kickoff.UTC().Format(time.RFC3339)
		}
		r[4], r[5], r[6] = nullable(m.HomeTeam), nullable(m.AwayTeam), nullable(string(m.Status))
		if m.Status == soccer.Finished {
			r[7], r[8], r[9] = m.HomeGoals, m.AwayGoals, nullable(string(m.Result))
		}
		minOdds := math.Inf(1)
		for _, o := range m.Odds {
			for _, p := range []float64{o.Home, o.Draw, o.Away} {
				if !math.IsNaN(p) && p < minOdds {
					minOdds = p
				}
			}
		}
		if !math.IsInf(minOdds, 1) {
			r[10] = minOdds
		}
		r[11] = len(m.Odds)
		for k, c := range m.Stats.All() {
			if c.Known {
				r[len(fixedColumns)+2*k], r[len(fixedColumns)+2*k+1] = c.Home, c.Away
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
