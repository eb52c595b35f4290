// Package plugin is what every SoccerPredict plugin gets from its host, of
// whatever kind: its settings, a logger whose lines reach the host's log, its
// name and version, and errors the host understands.
//
// A plugin's factory receives an Env once, when the host configures it:
//
//	func New(ctx context.Context, env plugin.Env) (source.Source, error) {
//		var cfg struct{ File string `json:"file"` }
//		if err := env.Settings.Decode(&cfg); err != nil {
//			return nil, err
//		}
//		env.Logger.Info("reading", "file", cfg.File)
//		...
//	}
package plugin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// Env is what a plugin's factory gets from the host.
type Env struct {
	// Name is the plugin's name, as given to its Serve call.
	Name string
	// Version is the plugin binary's version, read from its Go build
	// information (module version, else VCS revision, else "devel").
	Version string
	// Settings are the `config` block of the plugin's entry in host config.
	Settings Settings
	// Logger writes to the plugin's stderr, which the host folds into its own
	// log under the plugin's name. Never nil.
	Logger hclog.Logger
}

// NewEnv builds the Env a plugin would get for the given settings (a map or
// a struct, encoded as JSON as the host does; nil for none). Use it to build
// a plugin directly in its own tests.
func NewEnv(name string, settings any) (Env, error) {
	s, err := SettingsFrom(settings)
	if err != nil {
		return Env{}, err
	}
	return Env{Name: name, Version: BuildVersion(), Settings: s, Logger: hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Warn})}, nil
}

// Settings are a plugin's own settings, carried as JSON.
type Settings struct {
	raw []byte
}

// NewSettings wraps settings given as JSON (nil or empty means none).
func NewSettings(raw []byte) Settings { return Settings{raw: bytes.Clone(raw)} }

// SettingsFrom encodes a value (a map or struct) as Settings; Settings are
// kept as they are, and an Env gives its Settings.
func SettingsFrom(v any) (Settings, error) {
	switch s := v.(type) {
	case nil:
		return Settings{}, nil
	case Settings:
		return s, nil
	case Env:
		return s.Settings, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return Settings{}, fmt.Errorf("encode plugin settings: %w", err)
	}
	return Settings{raw: b}, nil
}

// JSON returns the settings as JSON ("{}" when there are none).
func (s Settings) JSON() []byte {
	if len(bytes.TrimSpace(s.raw)) == 0 {
		return []byte("{}")
	}
	return bytes.Clone(s.raw)
}

// Decode fills v from the settings. Unknown keys are an error naming the key,
// so a typo in host config is caught at launch rather than silently ignored.
func (s Settings) Decode(v any) error {
	dec := json.NewDecoder(bytes.NewReader(s.JSON()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("plugin settings: %w", err)
	}
	return nil
}

// StampedVersion, when set at build time (-ldflags "-X
// github.com/soccerpredict/soccerpredict/sdk/plugin.StampedVersion=v1.2.3";
// the project's make build does), is the version the plugin reports. Go
// records no VCS revision for a binary built in a go.work workspace, so
// without it such a build reports "devel".
var StampedVersion string

// BuildVersion is the running binary's version: StampedVersion when set,
// else from its Go build information: the main module's version when it was
// built from a tagged module, else the VCS revision (with "-dirty" for
// uncommitted changes), else "devel".
func BuildVersion() string {
	if StampedVersion != "" {
		return StampedVersion
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return strings.TrimPrefix(v, "v")
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return "devel"
	}
	return rev[:min(12, len(rev))] + dirty
}
