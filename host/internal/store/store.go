// Package store is the match store: matches (results and fixtures), the
// revisions a publisher made to them, rows held back in quarantine, and the
// record of ingest runs.
//
// Store is one interface, implemented once for SQL databases by sqlstore,
// over two dialects: sqlitestore (the embedded default) and pgstore
// (PostgreSQL), both checked by storetest. Deciding what a batch inserts,
// updates or leaves alone lives here, in Apply. The packages that use the
// store each declare the part of it they need.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/soccerpredict/soccerpredict/sdk/soccer"
	"github.com/soccerpredict/soccerpredict/sdk/source"
)

// Store is the match store.
type Store interface {
	// Apply writes one batch (one source file) in one transaction: every
	// match is inserted, updated (recording a Revision) or left unchanged,
	// and quarantined rows are kept. Nothing is half-written.
	Apply(ctx context.Context, b Batch) (Applied, error)
	// Matches lists matches in kick-off order (then by ID).
	Matches(ctx context.Context, q MatchQuery) ([]soccer.Match, error)
	// CountMatches counts what Matches would list.
	CountMatches(ctx context.Context, q MatchQuery) (int, error)
	// Revisions lists the recorded changes to a match, oldest first.
	Revisions(ctx context.Context, matchID string) ([]Revision, error)
	// Quarantined lists quarantined rows, oldest first.
	Quarantined(ctx context.Context, q QuarantineQuery) ([]QuarantinedRow, error)
	// RecordRun stores (or replaces) the record of an ingest run.
	RecordRun(ctx context.Context, r IngestRun) error
	// Runs lists ingest runs, newest first.
	Runs(ctx context.Context, limit int) ([]IngestRun, error)
	// Ping checks the store is reachable.
	Ping(ctx context.Context) error
	// MatchesVersion changes (grows) with every write that changes a match,
	// in the same transaction.
	MatchesVersion(ctx context.Context) (int64, error)
	// FinishedDigest fingerprints the finished matches, their IDs and
	// content hashes in kick-off order, in one read of two columns: all is
	// every finished match's, before those that kick off before cut (every
	// one's when cut is zero). Equal digests, the same history.
	FinishedDigest(ctx context.Context, cut time.Time) (before, all string, err error)
	// SaveFeatureSnapshot keeps a snapshot under its key, replacing the one
	// kept before; FeatureSnapshot returns it, or ErrNotFound.
	SaveFeatureSnapshot(ctx context.Context, s FeatureSnapshot) error
	FeatureSnapshot(ctx context.Context, key string) (FeatureSnapshot, error)
	Registry
	Generations
	Keys
	Jobs
	ForecastLog
	References
	Close() error
}

// DigestCut is the cut FinishedDigest queries compare kick-offs with: cut,
// or, when it is zero, a time after every kick-off.
func DigestCut(cut time.Time) time.Time {
	if cut.IsZero() {
		return time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	}
	return cut.UTC()
}

// DigestRows is FinishedDigest of (id, content_hash, kickoff < cut) rows in
// kick-off order, as both backends' queries return them.
func DigestRows(rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}) (before, all string, err error) {
	b, a := sha256.New(), sha256.New()
	for rows.Next() {
		var id, hash string
		var early bool
		if err := rows.Scan(&id, &hash, &early); err != nil {
			return "", "", fmt.Errorf("finished digest: %w", err)
		}
		line := id + "\x00" + hash + "\n"
		a.Write([]byte(line))
		if early {
			b.Write([]byte(line))
		}
	}
	return hex.EncodeToString(b.Sum(nil)), hex.EncodeToString(a.Sum(nil)), rows.Err()
}

// FeatureSnapshot is a feature plugin's state after replaying every finished
// match the store held at MatchesVersion, with what the host derived from
// the replay (Meta, opaque to the store). Key names the feature plugin,
// its schema and its settings: any change to them is another key.
type FeatureSnapshot struct {
	Key            string
	MatchesVersion int64
	State          []byte
	Meta           []byte
	CreatedAt      time.Time
}

// Batch is what ingestion writes for one source file.
type Batch struct {
	RunID      string
	Source     string
	File       source.File
	Matches    []soccer.Match
	Quarantine []QuarantinedRow
}

// Applied counts what a batch did.
type Applied struct {
	Loaded      int // new matches
	Updated     int // matches whose content changed
	Unchanged   int
	Quarantined int
}

// Add sums counts.
func (a Applied) Add(b Applied) Applied {
	return Applied{a.Loaded + b.Loaded, a.Updated + b.Updated, a.Unchanged + b.Unchanged, a.Quarantined + b.Quarantined}
}

// MatchQuery filters matches; zero fields match everything.
type MatchQuery struct {
	Competition string
	Season      string
	Status      soccer.Status
	From, To    time.Time // kick-off in [From, To)
	Limit       int
}

// QuarantineQuery filters quarantined rows.
type QuarantineQuery struct {
	Source string
	File   string
	RunID  string // rows seen in this run
}

// QuarantinedRow is an input row held back: unreadable, or failing the data contract.
type QuarantinedRow struct {
	Source  string
	File    string
	Line    int
	MatchID string
	// Reasons name what failed: the expectation (with its kwargs) or the parse error.
	Reasons []string
	// Raw is the row as read: the CSV line, or the match as JSON.
	Raw       string
	FirstRun  string
	LastRun   string
	FirstSeen time.Time
}

// Key identifies a quarantined row across runs, so re-ingesting the same bad
// row does not pile up copies.
func (q QuarantinedRow) Key() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00%s\x00%s", q.Source, q.File, q.Line, q.Raw, q.Reasons)
	return hex.EncodeToString(h.Sum(nil))
}

// Revision records that a publisher changed a match.
type Revision struct {
	MatchID string
	RunID   string
	Changed []string
	Before  soccer.Match
	After   soccer.Match
	At      time.Time
}

// IngestRun is the record of one ingest of one source.
type IngestRun struct {
	ID         string
	Source     string
	StartedAt  time.Time
	FinishedAt time.Time
	Files      int
	Read       int
	Applied    Applied
	Error      string
}

// Tx is what Apply needs of a backend inside one transaction.
type Tx interface {
	// Existing returns the stored matches among ids, by ID.
	Existing(ctx context.Context, ids []string) (map[string]Stored, error)
	// Write inserts and updates matches, records revisions, keeps quarantined
	// rows (by Key, updating LastRun) and records the source file.
	Write(ctx context.Context, w Writes) error
}

// Stored is a match as stored, with its content hash.
type Stored struct {
	Match soccer.Match
	Hash  string
	// Source is the source that owns the match (the first to store it);
	// set by Tx.Existing, and on an update another source filled gaps in.
	Source string
}

// OwnerOr is the match's owning source, or fallback when none is recorded.
func (s Stored) OwnerOr(fallback string) string {
	if s.Source != "" {
		return s.Source
	}
	return fallback
}

// Writes is everything one batch changes.
type Writes struct {
	RunID      string
	Source     string
	File       source.File
	Inserts    []Stored
	Updates    []Stored
	Revisions  []Revision
	Quarantine []QuarantinedRow
	Now        time.Time
}

// Apply decides, for one batch inside a backend's transaction, what to insert,
// update and record, then asks the backend to write it.
func Apply(ctx context.Context, tx Tx, b Batch, now time.Time) (Applied, error) {
	ids := make([]string, len(b.Matches))
	for i, m := range b.Matches {
		ids[i] = m.ID
	}
	existing, err := tx.Existing(ctx, ids)
	if err != nil {
		return Applied{}, fmt.Errorf("read stored matches: %w", err)
	}
	w := Writes{RunID: b.RunID, Source: b.Source, File: b.File, Now: now.UTC()}
	var a Applied
	seen := map[string]bool{}
	for _, m := range b.Matches {
		if seen[m.ID] {
			return Applied{}, fmt.Errorf("batch %s has match %s twice; the data contract should have quarantined it", b.File.Name, m.ID)
		}
		seen[m.ID] = true
		old, ok := existing[m.ID]
		switch {
		case ok && old.Source != "" && old.Source != b.Source:
			// Another source owns this match: this one only fills its gaps.
			m = FillGaps(old.Match, m)
		case ok:
			m = Carry(old.Match, m)
		}
		s := Stored{Match: Normalize(m), Hash: ContentHash(m)}
		if ok {
			s.Source = old.Source
		}
		switch {
		case !ok:
			w.Inserts = append(w.Inserts, s)
			a.Loaded++
		case old.Hash == s.Hash:
			a.Unchanged++
		default:
			w.Updates = append(w.Updates, s)
			w.Revisions = append(w.Revisions, Revision{MatchID: m.ID, RunID: b.RunID, Changed: Changed(old.Match, s.Match),
				Before: old.Match, After: s.Match, At: w.Now})
			a.Updated++
		}
	}
	for _, q := range b.Quarantine {
		q.Source, q.FirstRun, q.LastRun, q.FirstSeen = b.Source, b.RunID, b.RunID, w.Now
		w.Quarantine = append(w.Quarantine, q)
	}
	a.Quarantined = len(w.Quarantine)
	if err := tx.Write(ctx, w); err != nil {
		return Applied{}, err
	}
	return a, nil
}

// FillGaps is what a second source adds to a match another source owns:
// the owner's values stand (its kick-off, teams, score and origin), and the
// other source contributes only what the owner lacks: the result of a match
// the owner still has as scheduled (with the kick-off it was played at), a
// kick-off time where the owner has only the date, and the quotes of
// bookmakers (pre-match or closing) the owner has none of, and the
// statistics it lacks (when both have the same score). So two sources
// never overwrite each other back and forth, and a source without prices
// never erases the owner's.
func FillGaps(owner, other soccer.Match) soccer.Match {
	out := owner
	out.Odds = slices.Clone(owner.Odds)
	if owner.Status == soccer.Scheduled && other.Status == soccer.Finished {
		out = withResult(out, other)
	} else if !owner.KickoffTimeKnown && other.KickoffTimeKnown && sameDay(owner.Kickoff, other.Kickoff) {
		out.Kickoff, out.KickoffTimeKnown = other.Kickoff, true
	}
	for _, q := range other.Odds {
		if !slices.ContainsFunc(out.Odds, func(o soccer.Odds) bool { return o.Bookmaker == q.Bookmaker && o.Closing == q.Closing }) {
			out.Odds = append(out.Odds, q)
		}
	}
	out.Stats = fillStats(out, other)
	return out
}

// fillStats are m's statistics with those it lacks taken from other, when
// both are the same finished match: another version's shots of a match
// scored differently are not this match's.
func fillStats(m, other soccer.Match) soccer.Stats {
	out := m.Stats
	if m.Status != soccer.Finished || other.Status != soccer.Finished || m.HomeGoals != other.HomeGoals || m.AwayGoals != other.AwayGoals {
		return out
	}
	have, add := out.All(), other.Stats.All()
	for k := range have {
		if !have[k].Known && add[k].Known {
			*have[k] = *add[k]
		}
	}
	return out
}

// Carry is what a match's own source cannot take back by saying less: when
// its new version has no prices at all, the stored ones stay (a source
// without prices, or one whose prices were filled in by another, never
// erases them), as do stored statistics it does not give (same score), and
// a stored result stays when the new version still has
// the match as scheduled. Any value the new version does give replaces the
// stored one, so a publisher's corrections apply.
func Carry(stored, incoming soccer.Match) soccer.Match {
	if len(incoming.Odds) == 0 {
		incoming.Odds = stored.Odds
	}
	incoming.Stats = fillStats(incoming, stored)
	if stored.Status == soccer.Finished && incoming.Status == soccer.Scheduled {
		incoming = withResult(incoming, stored)
	}
	return incoming
}

// withResult is m with the result of played, and the kick-off it was played at.
func withResult(m, played soccer.Match) soccer.Match {
	m.Status, m.HomeGoals, m.AwayGoals, m.Result = played.Status, played.HomeGoals, played.AwayGoals, played.Result
	m.Kickoff, m.KickoffTimeKnown = played.Kickoff, played.KickoffTimeKnown
	return m
}

func sameDay(a, b time.Time) bool {
	return a.UTC().Sub(b.UTC()).Abs() < 24*time.Hour
}

// Normalize puts a match in the form the store returns: UTC, odds never nil.
func Normalize(m soccer.Match) soccer.Match {
	m.Kickoff = m.Kickoff.UTC().Truncate(time.Second)
	if m.Odds == nil {
		m.Odds = []soccer.Odds{}
	}
	return m
}

// ContentHash fingerprints what a match says, not where it was read from
// (Origin moves when a publisher inserts a row above it).
func ContentHash(m soccer.Match) string {
	m = Normalize(m)
	m.Origin = ""
	sum := sha256.Sum256(appendMatch(make([]byte, 0, 2048), m))
	return hex.EncodeToString(sum[:])
}

// Changed names the fields that differ between two versions of a match.
func Changed(a, b soccer.Match) []string {
	var out []string
	add := func(name string, differ bool) {
		if differ {
			out = append(out, name)
		}
	}
	add("competition", a.Competition != b.Competition)
	add("season", a.Season != b.Season)
	add("kickoff", !a.Kickoff.Equal(b.Kickoff) || a.KickoffTimeKnown != b.KickoffTimeKnown)
	add("home_team", a.HomeTeam != b.HomeTeam)
	add("away_team", a.AwayTeam != b.AwayTeam)
	add("status", a.Status != b.Status)
	add("score", a.HomeGoals != b.HomeGoals || a.AwayGoals != b.AwayGoals || a.Result != b.Result)
	add("odds", !slices.Equal(a.Odds, b.Odds))
	add("stats", a.Stats != b.Stats)
	return out
}

// StatsJSON is how the stores keep a match's statistics: "{}" when it has none.
func StatsJSON(s soccer.Stats) []byte {
	return AppendStats(nil, s)
}

// TimeFormat is how times are stored as text (fixed width, so text order is time order; nanoseconds, so runs started in the same second still order).
const TimeFormat = "2006-01-02T15:04:05.000000000Z"
