package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Generations is the part of the store serving follows. Implementations
// write a promotion (alias, generation and audit entry) in one transaction.
type Generations interface {
	// Promote points an alias at a version. For the champion it also adds a
	// generation, which every serving process picks up.
	Promote(ctx context.Context, p Promotion) (Generation, error)
	// CurrentGeneration is the newest generation (ErrNotFound when none).
	CurrentGeneration(ctx context.Context) (Generation, error)
	// GenerationHistory lists generations, newest first.
	GenerationHistory(ctx context.Context, limit int) ([]Generation, error)
	// Audit lists audit entries, newest first.
	Audit(ctx context.Context, limit int) ([]AuditEntry, error)
	RecordExperiment(ctx context.Context, r ExperimentRun) error
	Experiment(ctx context.Context, id string) (ExperimentRun, error)
	Experiments(ctx context.Context, limit int) ([]ExperimentRun, error)
}

// Champion is the alias serving follows.
const Champion = "champion"

// Promotion is a request to point an alias at a version.
type Promotion struct {
	Alias        string
	Version      int
	Action       string // "register", "promote", "rollback", "bootstrap"
	Actor        string
	Forced       bool
	Reason       string
	PluginDigest string
	// Details are what the decision rested on (backtest numbers), kept in the audit log.
	Details map[string]any
}

// Generation is one state of what serves: the champion's version, the model
// plugin digest and the cache namespace of its answers.
type Generation struct {
	ID             int64
	Alias          string
	Version        int
	PluginDigest   string
	CacheNamespace string
	Action         string
	CreatedAt      time.Time
}

// AuditEntry records an alias change, who made it and why.
type AuditEntry struct {
	At          time.Time
	Action      string
	Actor       string
	Alias       string
	FromVersion int // 0: none
	ToVersion   int
	Generation  int64 // 0: not a champion change
	Forced      bool
	Reason      string
	Details     json.RawMessage
}

// ExperimentRun is one tracked train or evaluate run.
type ExperimentRun struct {
	ID           string
	Kind         string // "train" or "evaluate"
	StartedAt    time.Time
	FinishedAt   time.Time
	Params       json.RawMessage
	Metrics      map[string]float64
	DatasetHash  string
	Plugins      []PluginInfo
	GitCommit    string
	ModelVersion int // 0: none
	// Report is an evaluate run's whole evaluation as JSON (empty otherwise).
	Report json.RawMessage
}

// PluginInfo identifies a plugin a run used.
type PluginInfo struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
}

// CacheNamespace names the cache space of a generation: a new generation
// never reads an older one's answers.
func CacheNamespace(id int64, version int) string { return fmt.Sprintf("g%d-v%d", id, version) }
