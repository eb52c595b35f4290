// Package wire is the host's side of the plugin protocol: the go-plugin
// handshake (wire major version and magic cookie), each kind's semantic API
// version and how versions are negotiated, the gRPC options of a plugin
// connection, and the gRPC clients that make a launched plugin look like the
// kind's Go interface to the host.
//
// Plugin authors never need this package: they implement a kind's interface
// (source, features, model) and call the matching function of serve.
package wire

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/soccerpredict/soccerpredict/sdk/plugin"
)

// ProtocolVersion is the wire major version; it changes only when the gRPC
// services change incompatibly.
const ProtocolVersion = 1

// Config is the go-plugin handshake. A binary launched without the cookie
// (say, by a person) prints a message and exits instead of serving.
var Config = goplugin.HandshakeConfig{
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
//
// The version policy: a minor version only adds to its kind's protocol
// (new optional message fields, new calls a peer may lack), so a host and a
// plugin are compatible whenever their majors are equal, whichever minor is
// newer. Each side ignores fields it does not know and treats a field its
// peer does not send as absent, so a plugin built against an older minor
// still loads (the host says which minor it speaks in Identity).
//
// Changes by minor:
//   - source 1.1: Reject.location, a position for sources that have no lines
//     (a JSON path, an API page); earlier plugins leave it empty.
//   - source 1.2, features 1.1: Match.stats, a finished match's statistics
//     (shots, shots on target, corners, fouls, cards, half-time score), each
//     optional. A source of an earlier minor sends none; a feature plugin of
//     an earlier minor ignores them.
var APIVersions = map[string]string{
	KindSource:   "1.2.0",
	KindFeatures: "1.1.0",
	KindModel:    "1.1.0",
}

// Negotiate reports whether a plugin speaking pluginVersion of a kind can serve
// a host speaking hostVersion: the majors must be equal.
func Negotiate(kind, hostVersion, pluginVersion string) error {
	hMaj, _, err := majorMinor(hostVersion)
	if err != nil {
		return fmt.Errorf("%s API: host version: %w", kind, err)
	}
	pMaj, _, err := majorMinor(pluginVersion)
	if err != nil {
		return fmt.Errorf("%s API: plugin version: %w", kind, err)
	}
	if hMaj != pMaj {
		return fmt.Errorf("%s API: plugin speaks %s, host speaks %s: major versions differ; rebuild the plugin against an sdk of major version %d", kind, pluginVersion, hostVersion, hMaj)
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

// Identity is what a plugin says about itself when the host configures it.
type Identity struct {
	Name       string
	APIVersion string
	// Transport is how the kind's hot calls travel: "fast" (the plugin's
	// framed socket), else "grpc".
	Transport string
}

// Configurer is implemented by every kind's gRPC client: the host calls
// Configure once after launch, before any other call.
type Configurer interface {
	Configure(ctx context.Context, settings plugin.Settings) (Identity, error)
}
