package forecast

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/soccerpredict/soccerpredict/host/internal/replay"
	"github.com/soccerpredict/soccerpredict/host/internal/scoring"
	"github.com/soccerpredict/soccerpredict/sdk/model"
	"github.com/soccerpredict/soccerpredict/sdk/soccer"
)

// PredictingTrainer is a model plugin that can both train and predict.
type PredictingTrainer interface {
	model.Model
	model.Trainer
}

// ClosingBookmaker's closing prices are the benchmark (Pinnacle, PSCH/PSCD/PSCA).
const ClosingBookmaker = "PS"

// SeasonEvaluation scores one held-out season.
type SeasonEvaluation struct {
	Season    string        `json:"season"`
	TrainRows int           `json:"train_matches"`
	Model     scoring.Score `json:"model"`
	// ModelWithoutOdds scores the same model on the same matches when the
	// caller sends no pre-match odds (features computed without them).
	ModelWithoutOdds scoring.Score `json:"model_without_odds"`
	Bookmaker        scoring.Score `json:"bookmaker_closing"`
	BaseRates        scoring.Score `json:"previous_season_base_rates"`
	ModelECE         float64       `json:"model_ece"`
	BookmakerECE     float64       `json:"bookmaker_ece"`
	// Reliability is the model's and the bookmaker's calibration table.
	Reliability []scoring.Bin `json:"reliability,omitempty"`
}

// Evaluation is a walk-forward evaluation on a competition's last seasons.
type Evaluation struct {
	Competition string             `json:"competition"`
	Seasons     []SeasonEvaluation `json:"seasons"`
	Overall     SeasonEvaluation   `json:"overall"`
}

// Evaluate trains, for each test season in order, on every trainable example
// that kicked off before the season's first match, and scores the season's
// matches that have closing odds: the model, the de-margined closing prices
// and the previous season's base rates, on the very same matches.
func Evaluate(ctx context.Context, d Dataset, t Trainer, m model.Model, competition string, testSeasons []string) (Evaluation, error) {
	ev := Evaluation{Competition: competition}
	trainable := d.Trainable()
	var allModel, allBare, allBook, allBase []soccer.Probabilities
	var allResults []soccer.Result
	for _, season := range testSeasons {
		var test []replay.Example
		for _, e := range d.Examples {
			if e.Match.Competition == competition && e.Match.Season == season {
				if _, ok := e.Match.OddsOf(ClosingBookmaker, true); ok {
					test = append(test, e)
				}
			}
		}
		if len(test) == 0 {
			return Evaluation{}, fmt.Errorf("evaluate: no %s %s matches with %s closing odds in the store", competition, season, ClosingBookmaker)
		}
		cutoff := test[0].Match.Kickoff
		var train []replay.Example
		for _, e := range trainable {
			if e.Match.Kickoff.Before(cutoff) {
				train = append(train, e)
			}
		}
		base, err := previousBaseRates(d, competition, season)
		if err != nil {
			return Evaluation{}, err
		}
		mv, err := t.Train(ctx, d, train)
		if err != nil {
			return Evaluation{}, fmt.Errorf("evaluate %s: %w", season, err)
		}
		if err := m.Load(ctx, model.LoadRequest{Artifact: mv.Artifact, Signature: mv.Signature}); err != nil {
			return Evaluation{}, fmt.Errorf("evaluate %s: %w", season, err)
		}
		rows := make([][]float64, len(test))
		bare := make([][]float64, len(test))
		results := make([]soccer.Result, len(test))
		book := make([]soccer.Probabilities, len(test))
		bases := make([]soccer.Probabilities, len(test))
		for i, e := range test {
			rows[i], results[i], bases[i], bare[i] = e.Values, e.Match.Result, base, e.Unpriced
			if bare[i] == nil {
				bare[i] = e.Values
			}
			o, _ := e.Match.OddsOf(ClosingBookmaker, true)
			if book[i], err = o.Implied(); err != nil {
				return Evaluation{}, fmt.Errorf("evaluate: match %s: %w", e.Match.ID, err)
			}
		}
		pred, err := m.Predict(ctx, model.PredictRequest{Rows: rows})
		if err != nil {
			return Evaluation{}, fmt.Errorf("evaluate %s: %w", season, err)
		}
		predBare, err := m.Predict(ctx, model.PredictRequest{Rows: bare})
		if err != nil {
			return Evaluation{}, fmt.Errorf("evaluate %s: %w", season, err)
		}
		for i := range test {
			if err := errors.Join(pred.Probabilities[i].Validate(), predBare.Probabilities[i].Validate()); err != nil {
				return Evaluation{}, fmt.Errorf("evaluate: model forecast for %s: %w", test[i].Match.ID, err)
			}
		}
		se, err := score(season, len(train), pred.Probabilities, predBare.Probabilities, book, bases, results)
		if err != nil {
			return Evaluation{}, err
		}
		ev.Seasons = append(ev.Seasons, se)
		allModel, allBook, allBase = append(allModel, pred.Probabilities...), append(allBook, book...), append(allBase, bases...)
		allBare = append(allBare, predBare.Probabilities...)
		allResults = append(allResults, results...)
	}
	overall, err := score("overall", 0, allModel, allBare, allBook, allBase, allResults)
	if err != nil {
		return Evaluation{}, err
	}
	ev.Overall = overall
	return ev, nil
}

func score(season string, trainRows int, model, bare, book, base []soccer.Probabilities, results []soccer.Result) (SeasonEvaluation, error) {
	se := SeasonEvaluation{Season: season, TrainRows: trainRows}
	var err error
	if se.Model, err = scoring.Evaluate(model, results); err != nil {
		return se, err
	}
	if se.ModelWithoutOdds, err = scoring.Evaluate(bare, results); err != nil {
		return se, err
	}
	if se.Bookmaker, err = scoring.Evaluate(book, results); err != nil {
		return se, err
	}
	if se.BaseRates, err = scoring.Evaluate(base, results); err != nil {
		return se, err
	}
	if se.ModelECE, err = scoring.ECE(model, results, 10); err != nil {
		return se, err
	}
	if se.BookmakerECE, err = scoring.ECE(book, results, 10); err != nil {
		return se, err
	}
	mr, _ := scoring.Reliability(model, results, 10)
	br, _ := scoring.Reliability(book, results, 10)
	for i := range mr {
		mr[i].Source = "model"
	}
	for i := range br {
		br[i].Source = "bookmaker"
	}
	se.Reliability = append(mr, br...)
	return se, nil
}

// previousBaseRates are the H/D/A frequencies of the competition's season
// before season in the data.
func previousBaseRates(d Dataset, competition, season string) (soccer.Probabilities, error) {
	var seasons []string
	for _, e := range d.Examples {
		if e.Match.Competition == competition && !slices.Contains(seasons, e.Match.Season) {
			seasons = append(seasons, e.Match.Season)
		}
	}
	slices.Sort(seasons)
	i := slices.Index(seasons, season)
	if i <= 0 {
		return soccer.Probabilities{}, fmt.Errorf("evaluate: no %s season before %s for base rates", competition, season)
	}
	var n, h, dr, a float64
	for _, e := range d.Examples {
		if e.Match.Competition == competition && e.Match.Season == seasons[i-1] {
			n++
			switch e.Match.Result {
			case soccer.HomeWin:
				h++
			case soccer.Draw:
				dr++
			case soccer.AwayWin:
				a++
			}
		}
	}
	return soccer.Probabilities{Home: h / n, Draw: dr / n, Away: a / n}, nil
}
