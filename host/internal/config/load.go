package config

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// Load layers defaults, the YAML files in order, the environment and the
// key=value overrides, then validates the result.
func Load(files []string, environ []string, overrides []string) (Config, error) {
	k := koanf.New(".")
	if err := k.Load(confmap.Provider(Defaults(), "."), nil); err != nil {
		return Config{}, fmt.Errorf("config defaults: %w", err)
	}
	for _, f := range files {
		if err := k.Load(file.Provider(f), yaml.Parser()); err != nil {
			return Config{}, fmt.Errorf("config file %s: %w", f, err)
		}
	}
	envp := env.Provider(".", env.Opt{
		Prefix:      EnvPrefix,
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(key, value string) (string, any) {
			key = strings.ToLower(strings.TrimPrefix(key, EnvPrefix))
			if slices.Contains(notKeys, key) {
				return "", nil
			}
			return strings.ReplaceAll(key, "__", "."), scalar(value)
		},
	})
	if err := k.Load(envp, nil); err != nil {
		return Config{}, fmt.Errorf("config environment: %w", err)
	}
	over := map[string]any{}
	for _, o := range overrides {
		key, value, ok := strings.Cut(o, "=")
		if !ok || key == "" {
			return Config{}, fmt.Errorf("--set %q: want key=value, e.g. store.driver=postgres", o)
		}
		over[key] = scalar(value)
	}
	if err := k.Load(confmap.Provider(over, "."), nil); err != nil {
		return Config{}, fmt.Errorf("config overrides: %w", err)
	}
	var cfg Config
	err := k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{DecoderConfig: &mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(",")),
		WeaklyTypedInput: true,
		ErrorUnused:      true,
		TagName:          "koanf",
	}})
	if err != nil {
		return Config{}, explain(err)
	}
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// scalar reads a value given as text (environment, --set) as JSON when it is
// a number, boolean or list, so free-form maps such as model.params get 0.01
// rather than "0.01"; anything else stays text.
func scalar(v string) any {
	var out any
	if err := json.Unmarshal([]byte(v), &out); err == nil {
		switch out.(type) {
		case float64, bool, []any:
			return out
		}
	}
	return v
}
