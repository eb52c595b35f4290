// Package forecast turns stored matches into models and predictions: Train
// replays history through the feature plugin and fits a model with the model
// plugin's Trainer; Evaluate scores walk-forward forecasts against the
// bookmaker's closing line and base rates; Predictor serves the champion.
//
// Start with Dataset, then Train, Evaluate or NewPredictor.
package forecast
