package charts

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// seriesNames are the series the host can expose at /metrics, from
// `soccerpredict metrics`.
func seriesNames(t *testing.T) map[string]bool {
	t.Helper()
	cmd := exec.Command("go", "run", "./cmd/soccerpredict", "metrics")
	cmd.Dir = filepath.Join("..", "host")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("soccerpredict metrics: %v", err)
	}
	names := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names[f[0]] = true
		}
	}
	if !names["soccerpredict_monitor_alarm"] {
		t.Fatalf("soccerpredict metrics lists no monitor series:\n%s", out)
	}
	return names
}

var seriesRef = regexp.MustCompile(`\bsoccerpredict_[a-z0-9_]+`)

// queried are the soccerpredict series an expression reads (a histogram's
// _bucket, _sum and _count are its own name's).
func queried(expr string) []string {
	var out []string
	for _, n := range seriesRef.FindAllString(expr, -1) {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			n = strings.TrimSuffix(n, suffix)
		}
		out = append(out, n)
	}
	return out
}

// The PrometheusRule decodes strictly into the Prometheus Operator's type,
// promtool accepts its rules, and every alert and dashboard query names
// series the host really exposes.
func TestMonitoringRulesAndDashboard(t *testing.T) {
	m, err := render(t, map[string]any{"monitoring": map[string]any{"prometheusRule": map[string]any{"enabled": true, "labels": map[string]any{"release": "kube-prometheus"}}}})
	if err != nil {
		t.Fatal(err)
	}
	names := seriesNames(t)
	rule := strict[monitoringv1.PrometheusRule](t, m["PrometheusRule"]["sp-soccerpredict"])
	if rule.Labels["release"] != "kube-prometheus" || len(rule.Spec.Groups) != 1 {
		t.Fatalf("rule %+v", rule.ObjectMeta)
	}
	alerts := map[string]bool{}
	for _, r := range rule.Spec.Groups[0].Rules {
		alerts[r.Alert] = true
		for _, n := range queried(r.Expr.String()) {
			if !names[n] {
				t.Errorf("alert %s queries %s, which /metrics does not have", r.Alert, n)
			}
		}
	}
	for _, a := range []string{"SoccerPredictLiveQualityAlarm", "SoccerPredictDatasetDrift", "SoccerPredictForecastLogDropping", "SoccerPredictMonitorStale"} {
		if !alerts[a] {
			t.Errorf("no %s alert", a)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is required for this test and is not installed: apt-get install --no-install-recommends prometheus")
	}
	groups, _ := yaml.Marshal(map[string]any{"groups": rule.Spec.Groups})
	file := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(file, groups, 0o644)
	if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}

	cm := strict[corev1.ConfigMap](t, m["ConfigMap"]["sp-soccerpredict-dashboard"])
	if cm.Labels["grafana_dashboard"] != "1" {
		t.Errorf("dashboard labels %v", cm.Labels)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal([]byte(cm.Data["soccerpredict-live-quality.json"]), &dash); err != nil || len(dash.Panels) < 8 {
		t.Fatalf("dashboard: %v, %d panels", err, len(dash.Panels))
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			if len(queried(target.Expr)) == 0 {
				t.Errorf("panel %q queries no soccerpredict series: %s", p.Title, target.Expr)
			}
			for _, n := range queried(target.Expr) {
				if !names[n] {
					t.Errorf("panel %q queries %s, which /metrics does not have", p.Title, n)
				}
			}
		}
	}

	// Off by default: the PrometheusRule needs the operator's CRD.
	m, err = render(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m["PrometheusRule"] != nil || m["ConfigMap"]["sp-soccerpredict-dashboard"] == nil {
		t.Error("by default: no PrometheusRule, and the dashboard ConfigMap")
	}
}
