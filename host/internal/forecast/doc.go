// Package forecast turns stored matches into models and predictions: Train
// replays history through the feature plugin and fits a model with the model
// plugin's Trainer; Evaluate scores walk-forward forecasts against the
// bookmaker's closing line and base rates; Predictor serves the champion.
//
// Serving: predictor.go follows generations (one model process each),
// predict.go runs a request through the generation's coalescer
// (coalesce.go), which gathers concurrent callers' fixtures into one feature
// Compute and one model Predict; cache.go is the per-generation cache and
// names.go the name policy and "did you mean" suggestions.
//
// Start with Dataset, then Train, Evaluate or NewPredictor.
package forecast
