package handshake

import (
	"strings"
	"testing"
)

func TestNegotiate(t *testing.T) {
	for _, c := range []struct {
		host, plugin string
		ok           bool
	}{
		{"1.0.0", "1.0.0", true},
		{"1.0.0", "1.3.2", true},
		{"1.2.0", "1.1.9", false},
		{"1.0.0", "2.0.0", false},
		{"1.0.0", "one", false},
	} {
		err := Negotiate("model", c.host, c.plugin)
		if (err == nil) != c.ok {
			t.Errorf("Negotiate(%s, %s) = %v, want ok=%v", c.host, c.plugin, err, c.ok)
		}
	}
}

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
