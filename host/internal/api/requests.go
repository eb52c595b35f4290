package api

// PredictionRequest is the body of POST /v1/predictions.
type PredictionRequest struct {
	HomeTeam    string `json:"home_team" validate:"required"`
	AwayTeam    string `json:"away_team" validate:"required"`
	Competition string `json:"competition" validate:"required"`
	// Kickoff is an RFC 3339 time; empty means now.
	Kickoff string `json:"kickoff,omitempty"`
	// AsOf, an RFC 3339 time not after the kick-off, answers from the
	// features as they stood before its day ("what would the model have
	// said then"); empty means as of the kick-off.
	AsOf string       `json:"as_of,omitempty"`
	Odds *OddsRequest `json:"odds,omitempty"`
	// StoredOdds false forecasts a fixture without odds as such even when
	// the store has it scheduled with pre-match prices; by default (true)
	// they are used and the answer's market says "source": "stored".
	StoredOdds *bool `json:"stored_odds,omitempty"`
	// Markets true requires the goal markets in the answer: a serving model
	// that forecasts home/draw/away only makes it a 422 instead of an
	// answer without them. Left out, they are given whenever the model has them.
	Markets bool `json:"markets,omitempty"`
}

// OddsRequest are optional pre-match decimal odds for the fixture.
type OddsRequest struct {
	// Bookmaker is a code or a name in any case ("PS", "Pinnacle",
	// "bet365"); left out, the price is taken as Pinnacle's. One the host
	// does not know is a 422 listing those it does; the price is always used.
	Bookmaker string  `json:"bookmaker,omitempty"`
	Home      float64 `json:"home"`
	Draw      float64 `json:"draw"`
	Away      float64 `json:"away"`
}

// BatchRequest is the body of POST /v1/predictions/batch.
type BatchRequest struct {
	Fixtures []PredictionRequest `json:"fixtures" validate:"required"`
}
