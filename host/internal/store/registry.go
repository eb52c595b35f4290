package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/soccerpredict/soccerpredict/sdk/model"
)

// ErrNotFound is wrapped when a model version or alias does not exist.
var ErrNotFound = errors.New("not found")

// Registry holds model versions and the aliases (champion, ...) that point at
// them, in the same database as the matches.
type Registry interface {
	// RegisterModel stores a new version and returns it with its number.
	RegisterModel(ctx context.Context, v ModelVersion) (ModelVersion, error)
	ModelVersion(ctx context.Context, version int) (ModelVersion, error)
	// ModelVersions lists versions, newest first, without artifacts.
	ModelVersions(ctx context.Context) ([]ModelVersion, error)
	SetAlias(ctx context.Context, alias string, version int) error
	// Alias returns the version an alias points at (ErrNotFound when unset).
	Alias(ctx context.Context, alias string) (ModelVersion, error)
}

// ModelVersion is one registered model.
type ModelVersion struct {
	Version              int
	Name                 string
	ModelPlugin          string
	Artifact             []byte
	ArtifactSHA256       string
	Signature            model.Signature
	FeaturePlugin        string
	FeatureSchemaVersion string
	Params               json.RawMessage
	Metrics              map[string]float64
	TrainingDataHash     string
	CreatedAt            time.Time
}

// References keep, with each model version, a sample of the feature rows it
// was trained on and its own forecasts of them: the reference the monitor
// measures drift of served forecasts against.
type References interface {
	// SaveReference keeps a version's reference, replacing one kept before.
	SaveReference(ctx context.Context, version int, r Reference) error
	// Reference returns a version's reference, or ErrNotFound.
	Reference(ctx context.Context, version int) (Reference, error)
}

// Reference is a sample of a version's training rows (the most recent
// ones, in the feature schema's column order) and the version's
// probabilities for them, in two regimes: rows of fixtures with a
// pre-match price, and rows as a caller who sends none gets them. Served
// forecasts are compared with the regime they were served in.
type Reference struct {
	Columns  []string        `json:"columns"`
	Priced   ReferenceSample `json:"priced"`
	Unpriced ReferenceSample `json:"unpriced"`
}

// ReferenceSample is one regime's rows and the version's forecasts of them.
type ReferenceSample struct {
	Rows          [][]float64  `json:"rows"`
	Probabilities [][3]float64 `json:"probabilities"`
}
