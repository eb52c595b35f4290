package wire

import (
	"testing"
)

func TestNegotiate(t *testing.T) {
	for _, c := range []struct {
		host, plugin string
		ok           bool
	}{
		{"1.0.0", "1.0.0", true},
		{"1.0.0", "1.3.2", true},
		{"1.2.0", "1.1.9", true}, // a plugin of an older minor still loads
		{"1.0.0", "2.0.0", false},
		{"2.1.0", "1.9.0", false},
		{"1.0.0", "one", false},
	} {
		err := Negotiate("model", c.host, c.plugin)
		if (err == nil) != c.ok {
			t.Errorf("Negotiate(%s, %s) = %v, want ok=%v", c.host, c.plugin, err, c.ok)
		}
	}
}
