package forecast

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/replay"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/sdk/features"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// Spool is the replayed past an evaluation needs, with the training rows
// on disk instead of in memory: the examples of the test seasons (with
// their prices), every season's results (for base rates), and each
// trainable example's rows in a file, in kick-off order. A fold trains on
// a prefix of the file, streamed to the model plugin (TrainRows), so the
// host holds the test seasons, never the history. Close removes the file.
type Spool struct {
	replayed
	tests   map[[2]string][]replay.Example
	results resultCounts
	rows    RowsTrainer
	file    *os.File
	hash    string
}

// spooled row: kick-off (unix nanoseconds), outcome index, whether it
// starts an example (the unpriced copy does not), home and away goals
// (capped at 255), then the values.
const spoolHeader = 8 + 1 + 1 + 2

// SpoolFromStore replays every finished match in the store through fs
// (which must start empty) into a Spool under dir; keepTest says which
// matches are test matches. rows is the model plugin the folds train with.
func SpoolFromStore(ctx context.Context, st History, fs features.FeatureSet, rows RowsTrainer, dir string, keepTest func(soccer.Match) bool,
	progress func(done, total int)) (*Spool, error) {
	r, err := startReplay(ctx, st, fs)
	if err != nil {
		return nil, err
	}
	s := &Spool{replayed: r, tests: map[[2]string][]replay.Example{}, results: resultCounts{}, rows: rows}
	schema := r.schema
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if s.file, err = os.CreateTemp(dir, "evaluate-*.rows"); err != nil {
		return nil, fmt.Errorf("evaluation spool: %w", err)
	}
	w := bufio.NewWriterSize(s.file, 1<<20)
	meta := newMetaBuilder(DefaultRecent)
	trainable := trainableFilter()
	hash := replay.NewHasher()
	buf := make([]byte, spoolHeader+8*len(schema.Columns))
	write := func(e replay.Example, values []float64, first bool) error {
		binary.LittleEndian.PutUint64(buf, uint64(e.Match.Kickoff.UnixNano()))
		buf[8], buf[9] = outcomeIndex(e.Match.Result), 0
		if first {
			buf[9] = 1
		}
		buf[10], buf[11] = byte(min(e.Match.HomeGoals, 255)), byte(min(e.Match.AwayGoals, 255))
		for j, v := range values {
			binary.LittleEndian.PutUint64(buf[spoolHeader+8*j:], math.Float64bits(v))
		}
		_, err := w.Write(buf)
		return err
	}
	n, err := StreamReplay(ctx, st, fs, time.Time{}, true, progress, func(e replay.Example) error {
		meta.add(e)
		s.results.add(e.Match)
		if keepTest(e.Match) {
			k := [2]string{e.Match.Competition, e.Match.Season}
			s.tests[k] = append(s.tests[k], e)
		}
		if !trainable(e.Match) {
			return nil
		}
		hash.Add(e)
		if err := write(e, e.Values, true); err != nil {
			return err
		}
		if e.Unpriced != nil {
			return write(e, e.Unpriced, false)
		}
		return nil
	})
	if err == nil {
		err = w.Flush()
	}
	if err == nil && n == 0 {
		err = errNoMatches
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	s.hash = hash.Sum()
	s.done(meta)
	return s, nil
}

func outcomeIndex(r soccer.Result) byte {
	switch r {
	case soccer.Draw:
		return 1
	case soccer.AwayWin:
		return 2
	}
	return 0
}

// Close removes the spool's file.
func (s *Spool) Close() error {
	if s.file == nil {
		return nil
	}
	s.file.Close()
	return os.Remove(s.file.Name())
}

// TrainableHash is Dataset.TrainableHash of the spooled history.
func (s *Spool) TrainableHash() string { return s.hash }

// EvaluateLeagues is EvaluateLeagues on the spooled history.
func (s *Spool) EvaluateLeagues(ctx context.Context, t Trainer, m model.Model, leagues []League, progress func(League, string)) (Report, error) {
	return evaluateLeagues(ctx, s, t, m, leagues, progress)
}

func (s *Spool) season(competition, season string) []replay.Example {
	return s.tests[[2]string{competition, season}]
}

func (s *Spool) baseRates(competition, season string) (soccer.Probabilities, error) {
	return s.results.baseRates(competition, season)
}

func (s *Spool) goalRates(competition, season string) [2]float64 {
	return s.results.goalRates(competition, season)
}

// trainBefore streams the spooled rows that kicked off before cutoff.
func (s *Spool) trainBefore(ctx context.Context, t Trainer, cutoff time.Time) (store.ModelVersion, error) {
	params, err := t.params()
	if err != nil {
		return store.ModelVersion{}, err
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return store.ModelVersion{}, err
	}
	matches := 0
	rows := func(yield func([]float64, soccer.Result, *model.Played) bool) error {
		r := bufio.NewReaderSize(s.file, 1<<20)
		var played model.Played
		buf := make([]byte, spoolHeader+8*len(s.schema.Columns))
		row := make([]float64, len(s.schema.Columns))
		for {
			if _, err := io.ReadFull(r, buf); errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return fmt.Errorf("evaluation spool: %w", err)
			}
			kickoff := int64(binary.LittleEndian.Uint64(buf))
			if kickoff >= cutoff.UnixNano() {
				return nil // kick-off order: nothing later is before it
			}
			played = model.Played{Kickoff: time.Unix(0, kickoff).UTC(), HomeGoals: int(buf[10]), AwayGoals: int(buf[11])}
			for j := range row {
				row[j] = math.Float64frombits(binary.LittleEndian.Uint64(buf[spoolHeader+8*j:]))
			}
			if buf[9] == 1 {
				matches++
			}
			if !yield(row, [...]soccer.Result{soccer.HomeWin, soccer.Draw, soccer.AwayWin}[buf[8]], &played) {
				return nil
			}
		}
	}
	resp, err := s.rows.TrainRows(ctx, model.TrainRequest{Columns: s.schema.Columns, Params: params, Seed: t.Seed}, rows)
	if err != nil {
		return store.ModelVersion{}, fmt.Errorf("train: %w", err)
	}
	if matches == 0 {
		return store.ModelVersion{}, fmt.Errorf("train: no examples")
	}
	return t.version(resp, s.schema, matches, params, "")
}
