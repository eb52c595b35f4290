package plugin_test

import (
	"errors"
	"fmt"

	"github.com/soccerpredict/soccerpredict/sdk/plugin"
)

// A plugin says what kind of failure it is; the host (and any caller) tells
// them apart with errors.Is, on either side of the process boundary.
func ExampleInvalid() {
	err := fmt.Errorf("load: %w", plugin.Invalid("column %q is missing", "FTHG"))
	fmt.Println(err)
	fmt.Println(errors.Is(err, plugin.ErrInvalid), errors.Is(err, plugin.ErrNotReady))
	// Output:
	// load: column "FTHG" is missing
	// true false
}

// Settings decode into the plugin's own type; an unknown key is an error
// naming it, so a typo in host config fails at launch.
func ExampleSettings_Decode() {
	env, _ := plugin.NewEnv("footballdata", map[string]any{"dri": "data"})
	var cfg struct {
		Dir string `json:"dir"`
	}
	fmt.Println(env.Settings.Decode(&cfg))
	// Output: plugin settings: json: unknown field "dri"
}
