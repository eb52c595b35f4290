// Package shimtest connects a plugin to its gRPC client in-process, through
// the real go-plugin gRPC shim, for the conformance suites.
package shimtest

import (
	"context"
	"testing"

	"github.com/hashicorp/go-plugin"

	"github.com/soccerpredict/soccerpredict/sdk/handshake"
)

// Dispense serves p in-process and returns its configured gRPC client.
func Dispense(t testing.TB, kind string, p plugin.Plugin, settings handshake.Settings) any {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{kind: p})
	t.Cleanup(func() { _ = client.Close() })
	raw, err := client.Dispense(kind)
	if err != nil {
		t.Fatalf("dispense %s over gRPC: %v", kind, err)
	}
	conf, ok := raw.(handshake.Configurer)
	if !ok {
		t.Fatalf("%s client %T cannot be configured", kind, raw)
	}
	if _, err := conf.Configure(context.Background(), settings); err != nil {
		t.Fatalf("configure %s over gRPC: %v", kind, err)
	}
	return raw
}
