// Package source is the contract of a data-source plugin: something that
// yields matches (results and upcoming fixtures) from one provider.
//
// A source plugin is a library implementing Source plus a one-line main:
//
//	func main() { source.Serve("footballdata", footballdata.New) }
//
// Check it with sourcetest.Run.
package source

import (
	"context"
	"slices"
	"strconv"

	"github.com/soccerpredict/soccerpredict/sdk/handshake"
	"github.com/soccerpredict/soccerpredict/sdk/internal/shim"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// Source is implemented by data-source plugins.
type Source interface {
	// Describe says what the source is and what it can fetch.
	Describe(ctx context.Context) (Description, error)
	// Fetch returns matches for the requested competitions and seasons. It is
	// idempotent: the same match has the same ID on every call. A row the
	// source cannot read is returned as a Reject, never dropped silently. A
	// single price it cannot read is NaN in its quote: the host drops that
	// quote with a warning and keeps the match (its data contract's prices).
	Fetch(ctx context.Context, req FetchRequest) (FetchResponse, error)
}

// Factory builds a Source from the plugin's settings in host config.
type Factory func(settings handshake.Settings) (Source, error)

// Description says what a source is.
type Description struct {
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

// FetchResponse is what a fetch found.
type FetchResponse struct {
	Matches []soccer.Match
	// Rejects are rows the source could not turn into a match.
	Rejects []Reject
	// Files are the inputs read, with their digests, for provenance.
	Files []File
}

// Reject is an input row the source could not read, and why.
type Reject struct {
	File    string
	Line    int
	Column  string
	Message string
	Raw     string
}

func (r Reject) Error() string {
	if r.Column == "" {
		return r.File + ":" + strconv.Itoa(r.Line) + ": " + r.Message
	}
	return r.File + ":" + strconv.Itoa(r.Line) + ": column " + r.Column + ": " + r.Message
}

// File is one input a fetch read.
type File struct {
	Name   string
	SHA256 string
	Rows   int
}

// Serve runs a source plugin binary; call it from main.
func Serve(name string, factory Factory) {
	shim.Serve(name, handshake.KindSource, &Plugin{Name: name, Factory: factory})
}
