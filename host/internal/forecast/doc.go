// Package forecast turns stored matches into models and predictions: Train
// replays history through the feature plugin and fits a model with the model
// plugin's Trainer; Evaluate scores walk-forward forecasts against the
// bookmaker's closing line and base rates; Predictor serves the champion.
//
// Serving, from the top file down (each file uses only those below it):
// start.go starts the Predictor and follows generations (one model process
// each), shadowing.go serves the challenger in shadow, warm.go replays or
// restores the feature plugin's state, predict.go runs a request through
// the generation's coalescer (coalesce.go), which gathers concurrent
// callers' fixtures into one feature Compute and one model Predict;
// predictor.go is the Predictor itself and the names it resolves;
// generation.go is one served generation with its cache; prediction.go
// what a forecast is; names.go the name policy and "did you mean"
// suggestions. Offline: stream.go replays the store into training rows and
// snapshots (snapshot.go), train.go and evaluate.go fit and score models,
// spool.go and promotion.go back-test a challenger.
//
// Start with Dataset, then Train, Evaluate or NewPredictor.
package forecast
