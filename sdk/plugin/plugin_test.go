package plugin

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestSettingsDecodeRejectsUnknownKeys(t *testing.T) {
	s, err := SettingsFrom(map[string]any{"dir": "data", "bse_url": "x"})
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Dir     string `json:"dir"`
		BaseURL string `json:"base_url"`
	}
	err = s.Decode(&cfg)
	if err == nil || !strings.Contains(err.Error(), "bse_url") {
		t.Fatalf("Decode = %v, want an error naming bse_url", err)
	}
	if err := (Settings{}).Decode(&cfg); err != nil {
		t.Fatalf("empty settings: %v", err)
	}
}

func TestErrorKinds(t *testing.T) {
	err := fmt.Errorf("load: %w", Invalid("column %q is missing", "FTHG"))
	if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrNotFound) {
		t.Fatalf("errors.Is on %v: kinds mixed up", err)
	}
	if err.Error() != `load: column "FTHG" is missing` {
		t.Fatalf("message = %q, want the plugin's words only", err)
	}
}

func TestNewEnv(t *testing.T) {
	env, err := NewEnv("x", map[string]any{"file": "a.json"})
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct{ File string }
	if err := env.Settings.Decode(&cfg); err != nil || cfg.File != "a.json" || env.Logger == nil || env.Version == "" {
		t.Fatalf("NewEnv = %+v (%v)", env, err)
	}
}

// A version stamped at build time is what the plugin reports (a go.work
// build records no VCS revision, and would report "devel").
func TestStampedVersionWins(t *testing.T) {
	defer func(old string) { StampedVersion = old }(StampedVersion)
	StampedVersion = "v9.9.9-test"
	if v := BuildVersion(); v != "v9.9.9-test" {
		t.Fatalf("BuildVersion() = %q with a stamped version", v)
	}
}
