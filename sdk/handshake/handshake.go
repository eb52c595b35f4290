// Package handshake is what the host and every plugin agree on before any
// call: the go-plugin handshake (wire major version and magic cookie), each
// kind's semantic API version, and the plugin's own settings from host config.
package handshake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/go-plugin"
)

// ProtocolVersion is the wire major version; it changes only when the gRPC
// services change incompatibly.
const ProtocolVersion = 1

// Config is the go-plugin handshake. A binary launched without the cookie
// (say, by a person) prints a message and exits instead of serving.
var Config = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "SOCCERPREDICT_PLUGIN",
	MagicCookieValue: "c6f1d6a2-soccerpredict-plugin",
}

// Kinds of plugin, which are also the go-plugin plugin-set keys.
const (
	KindSource   = "source"
	KindFeatures = "features"
	KindModel    = "model"
)

// APIVersions are the semantic API versions of each kind this sdk speaks.
// A host and a plugin are compatible when the majors are equal and the
// plugin's minor is at least the host's.
var APIVersions = map[string]string{
	KindSource:   "1.0.0",
	KindFeatures: "1.0.0",
	KindModel:    "1.0.0",
}

// Negotiate reports whether a plugin speaking pluginVersion of a kind can serve
// a host that needs hostVersion.
func Negotiate(kind, hostVersion, pluginVersion string) error {
	hMaj, hMin, err := majorMinor(hostVersion)
	if err != nil {
		return fmt.Errorf("%s API: host version: %w", kind, err)
	}
	pMaj, pMin, err := majorMinor(pluginVersion)
	if err != nil {
		return fmt.Errorf("%s API: plugin version: %w", kind, err)
	}
	if hMaj != pMaj || pMin < hMin {
		return fmt.Errorf("%s API: plugin speaks %s, host needs %s (same major, minor at least the host's)", kind, pluginVersion, hostVersion)
	}
	return nil
}

func majorMinor(v string) (int, int, error) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0, 0, fmt.Errorf("%q is not a semantic version", v)
	}
	maj, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("%q is not a semantic version", v)
	}
	return maj, minor, nil
}

// Settings are a plugin's own settings, the `config` block of its entry in
// the host's configuration, carried as JSON.
type Settings struct {
	raw []byte
}

// NewSettings wraps settings given as JSON (nil or empty means none).
func NewSettings(raw []byte) Settings { return Settings{raw: bytes.Clone(raw)} }

// SettingsFrom encodes a value (a map or struct) as Settings.
func SettingsFrom(v any) (Settings, error) {
	if v == nil {
		return Settings{}, nil
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

// Identity is what a plugin says about itself when the host configures it.
type Identity struct {
	Name       string
	APIVersion string
}

// Configurer is implemented by every kind's gRPC client: the host calls
// Configure once after launch, before any other call.
type Configurer interface {
	Configure(ctx context.Context, settings Settings) (Identity, error)
}
