package telemetry

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/soccerpredict/soccerpredict/host/internal/monitor"
)

// MonitorReport sets the live-quality series from a monitor report; series
// of versions no longer in it are removed.
func (m *Metrics) MonitorReport(rep monitor.Report) {
	if m == nil {
		return
	}
	g := m.monitor
	for _, c := range []*prometheus.GaugeVec{g.scored, g.logLoss, g.rps, g.vsMarket, g.ece, g.drift, g.drifted, g.datasetDrift, g.alarm, g.alarmZ, g.ingestShare, g.ingestFlag} {
		c.Reset()
	}
	market := func(version, comp, window string, s monitor.Summary) {
		if s.N == 0 {
			return
		}
		g.logLoss.WithLabelValues(version, comp, window).Set(s.Mean.LogLoss)
		g.rps.WithLabelValues(version, comp, window).Set(s.Mean.RPS)
		if s.PreMatch != nil {
			g.vsMarket.WithLabelValues(version, comp, window, "pre_match").Set(s.PreMatch.LogLoss)
		}
		if s.Closing != nil {
			g.vsMarket.WithLabelValues(version, comp, window, "closing").Set(s.Closing.LogLoss)
		}
	}
	for _, v := range rep.Versions {
		version := strconv.Itoa(v.Version)
		g.scored.WithLabelValues(version, "all").Set(float64(v.N))
		market(version, "all", "all", v.Summary)
		for _, c := range v.Competitions {
			g.scored.WithLabelValues(version, c.Competition).Set(float64(c.N))
			market(version, c.Competition, "all", c.Summary)
		}
		for _, w := range v.Windows {
			market(version, "all", strconv.Itoa(w.Size), w.Summary)
		}
		for _, c := range v.Calibration {
			g.ece.WithLabelValues(version, c.Outcome).Set(c.ECE)
		}
		for _, d := range v.Drift {
			for _, f := range d.Features.Features {
				g.drift.WithLabelValues(version, d.Regime, f.Feature).Set(f.Wasserstein)
			}
			g.drifted.WithLabelValues(version, d.Regime).Set(float64(d.Features.Drifted))
			g.datasetDrift.WithLabelValues(version, d.Regime).Set(b2f(d.Features.DatasetDrift))
		}
		g.alarm.WithLabelValues(version).Set(b2f(v.Alarm.Raised))
		g.alarmZ.WithLabelValues(version).Set(v.Alarm.Z)
	}
	for _, c := range rep.Ingest {
		g.ingestShare.WithLabelValues(c.Scope, c.Measure).Set(c.Latest)
		g.ingestFlag.WithLabelValues(c.Scope, c.Measure).Set(b2f(c.Flagged))
	}
	g.refreshed.WithLabelValues("all").Set(float64(rep.GeneratedAt.UnixNano()) / 1e9)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Shadow exposes the shadow challenger's version and counts, read from stats.
func (m *Metrics) Shadow(stats func() (version int, computed, shed int64)) {
	if m == nil {
		return
	}
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "soccerpredict_shadow_version", Help: "The model version served in shadow (0: none)."},
			func() float64 { v, _, _ := stats(); return float64(v) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "soccerpredict_shadow_forecasts_total", Help: "Forecasts the shadow version computed and logged."},
			func() float64 { _, c, _ := stats(); return float64(c) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "soccerpredict_shadow_shed_total", Help: "Forecasts not shadowed because the shadow's queue was full (shed first under load) or its call failed."},
			func() float64 { _, _, s := stats(); return float64(s) }))
}

// Series lists the name, type and help of every series this process can
// expose at /metrics (the shadow's included), sorted by name: what
// dashboards and alerts may query.
func Series() ([][3]string, error) {
	m := New()
	m.Shadow(func() (int, int64, int64) { return 0, 0, 0 })
	families, err := m.registry.Gather()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out [][3]string
	for _, f := range families {
		out = append(out, [3]string{f.GetName(), strings.ToLower(f.GetType().String()), f.GetHelp()})
		seen[f.GetName()] = true
	}
	// Vectors without a child yet are not gathered: describe them.
	descs := make(chan *prometheus.Desc, 256)
	go func() { m.registry.Describe(descs); close(descs) }()
	for d := range descs {
		name := descName.FindStringSubmatch(d.String())
		if name != nil && !seen[name[1]] {
			seen[name[1]] = true
			out = append(out, [3]string{name[1], "", descHelp(d.String())})
		}
	}
	slices.SortFunc(out, func(a, b [3]string) int { return strings.Compare(a[0], b[0]) })
	return out, nil
}

var (
	descName    = regexp.MustCompile(`fqName: "([^"]+)"`)
	descHelpExp = regexp.MustCompile(`help: "((?:[^"\\]|\\.)*)"`)
)

func descHelp(s string) string {
	if m := descHelpExp.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}
