package telemetry

import (
	"io"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// soccerpredict_build_info names the running binary: one series, value 1.
func TestBuildInfo(t *testing.T) {
	m := New()
	m.Build("v1.2.3", "0123456789ab")
	m.Build("v1.2.4", "ba9876543210") // set again: still one series
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	want := `soccerpredict_build_info{commit="ba9876543210",goversion="` + runtime.Version() + `",version="v1.2.4"} 1`
	if !strings.Contains(string(body), want) || strings.Count(string(body), "soccerpredict_build_info{") != 1 {
		t.Fatalf("/metrics has no %s (or more than one build_info series):\n%s", want, grep(string(body), "build_info"))
	}
}

func grep(s, sub string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
