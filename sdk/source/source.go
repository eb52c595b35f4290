// Package source is the contract of a data-source plugin: something that
// yields matches (results and upcoming fixtures) from one provider.
//
// A source plugin is a library implementing Source plus a one-line main:
//
//	func main() { serve.Source("footballdata", footballdata.New) }
//
// Check it with sourcetest.Run.
package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"

	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// Source is implemented by data-source plugins.
type Source interface {
	// Describe says what the source is and what it can fetch.
	Describe(ctx context.Context) (Description, error)
	// Fetch sends the matches of the requested competitions and seasons to
	// out as it reads them, so a source never has to hold its whole history
	// (the host receives them in bounded chunks).
	//
	// The rules, which sourcetest checks:
	//   - Idempotent: the same match has the same ID on every call; use
	//     soccer.MatchID, which other sources use too, so one match from two
	//     sources is one match.
	//   - Nothing is dropped silently: an input the source cannot turn into a
	//     match is sent as a Reject saying where and why. A single price it
	//     cannot read is NaN in its quote: the host drops that quote with a
	//     warning and keeps the match.
	//   - Every input read is sent as a File with its digest, for provenance.
	//   - One file at a time: send a file's matches and rejects together,
	//     then the File itself (EachJSON does).
	//     The host commits each file as one batch when it is complete, so it
	//     holds one file at a time; when Fetch returns an error the host
	//     keeps the files it committed and discards the rest, and the next
	//     ingest completes the run without duplicating anything.
	//   - Honour ctx: stop and return ctx.Err() when it is done.
	Fetch(ctx context.Context, req FetchRequest, out Sink) error
}

// Sink receives what a fetch finds. Its methods never fail: when the host has
// gone away they do nothing and the fetch's context is cancelled.
type Sink interface {
	Match(m soccer.Match)
	Reject(r Reject)
	File(f File)
}

// Factory builds a Source when the host configures the plugin: ctx is the
// configuring call's, env carries the plugin's settings and logger.
type Factory func(ctx context.Context, env plugin.Env) (Source, error)

// Description says what a source is.
type Description struct {
	// Name and Version may be left empty: the plugin's Serve fills them in
	// from its name and its binary's build information.
	Name        string
	Version     string
	Description string
	// Competitions the source can fetch, in its own codes (e.g. "E0").
	Competitions []string
}

// FetchRequest selects what to fetch; empty lists mean everything the source has.
type FetchRequest struct {
	Competitions []string
	Seasons      []string
}

// Wants reports whether a match of this competition and season is asked
// for: empty lists mean every competition or season.
func (r FetchRequest) Wants(competition, season string) bool {
	return (len(r.Competitions) == 0 || slices.Contains(r.Competitions, competition)) &&
		(len(r.Seasons) == 0 || slices.Contains(r.Seasons, season))
}

// Or fills the lists r leaves empty from defaults (a plugin's settings):
// a request that names no competition asks for the default ones.
func (r FetchRequest) Or(defaults FetchRequest) FetchRequest {
	if len(r.Competitions) == 0 {
		r.Competitions = defaults.Competitions
	}
	if len(r.Seasons) == 0 {
		r.Seasons = defaults.Seasons
	}
	return r
}

// FetchResponse is everything a fetch found, as Collect gathers it.
type FetchResponse struct {
	Matches []soccer.Match
	// Rejects are rows the source could not turn into a match.
	Rejects []Reject
	// Files are the inputs read, with their digests, for provenance.
	Files []File
}

// Match, Reject and File make a FetchResponse a Sink that collects.
func (r *FetchResponse) Match(m soccer.Match) { r.Matches = append(r.Matches, m) }

// Reject implements Sink.
func (r *FetchResponse) Reject(rj Reject) { r.Rejects = append(r.Rejects, rj) }

// File implements Sink.
func (r *FetchResponse) File(f File) { r.Files = append(r.Files, f) }

// Collect runs a fetch and gathers all it sends. A fetch that fails returns
// nothing but the error.
func Collect(ctx context.Context, src Source, req FetchRequest) (FetchResponse, error) {
	var out FetchResponse
	if err := src.Fetch(ctx, req, &out); err != nil {
		return FetchResponse{}, err
	}
	return out, nil
}

// Reject is an input the source could not read, and why. File names the
// input; Line is its 1-based line for a line-oriented input (CSV), else 0
// with Location saying where it is instead (a JSON path such as
// "matches[12].score", an API page).
type Reject struct {
	File     string
	Line     int
	Location string
	Column   string
	Message  string
	Raw      string
}

func (r Reject) Error() string {
	where := r.File
	switch {
	case r.Line > 0:
		where += ":" + strconv.Itoa(r.Line)
	case r.Location != "":
		where += ": " + r.Location
	}
	if r.Column == "" {
		return where + ": " + r.Message
	}
	return where + ": column " + r.Column + ": " + r.Message
}

// File is one input a fetch read.
type File struct {
	Name   string
	SHA256 string
	Rows   int
}

// Digest is the hex SHA-256 of an input, as File.SHA256 holds it.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
