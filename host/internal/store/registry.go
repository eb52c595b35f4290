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
