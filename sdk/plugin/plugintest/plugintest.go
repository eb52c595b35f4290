// Package plugintest builds what a plugin's own tests need to construct the
// plugin directly, as the host would.
package plugintest

import (
	"testing"

	"github.com/soccerpredict/soccerpredict/sdk/plugin"
)

// Env is the plugin.Env the host would give a plugin called name with these
// settings (a map or struct, encoded as JSON as the host does; nil for
// none). A setting that cannot be encoded fails the test.
func Env(t testing.TB, name string, settings any) plugin.Env {
	t.Helper()
	env, err := plugin.NewEnv(name, settings)
	if err != nil {
		t.Fatalf("plugin settings: %v", err)
	}
	return env
}
