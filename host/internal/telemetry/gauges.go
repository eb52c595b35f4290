package telemetry

import "github.com/prometheus/client_golang/prometheus"

// monitorGauges are the live-quality series, set from each monitor report.
type monitorGauges struct {
	scored, logLoss, rps, vsMarket, ece, drift, drifted, datasetDrift, alarm, alarmZ, refreshed, ingestShare, ingestFlag *prometheus.GaugeVec
}

func newMonitorGauges() monitorGauges {
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "soccerpredict_monitor_" + name, Help: help}, labels)
	}
	return monitorGauges{
		scored: g("scored_matches", "Matches scored against their result: each fixture once per model version, its last forecast before kick-off.", "model_version", "competition"),
		logLoss: g("log_loss", "Mean log-loss of the scored forecasts, over all scored matches (window=\"all\") or the last N.",
			"model_version", "competition", "window"),
		rps: g("rps", "Mean ranked probability score of the scored forecasts.", "model_version", "competition", "window"),
		vsMarket: g("log_loss_vs_market", "Mean log-loss difference model − market's de-margined price on the same matches (negative: better than the market).",
			"model_version", "competition", "window", "market"),
		ece: g("ece", "Expected calibration error per outcome (10 bins) of the scored forecasts.", "model_version", "outcome"),
		drift: g("feature_drift", "Normalised Wasserstein distance of each feature's recent served values from the version's training reference, per regime (requests with a price or without).",
			"model_version", "regime", "feature"),
		drifted:      g("drifted_features", "Features whose drift test fails (Evidently's defaults), per regime.", "model_version", "regime"),
		datasetDrift: g("dataset_drift", "1 when at least half of the features drift, per regime.", "model_version", "regime"),
		alarm:        g("alarm", "1 when the sequential test finds the version worse than the pre-match price.", "model_version"),
		alarmZ:       g("alarm_z", "The sequential test's statistic (raises above its threshold).", "model_version"),
		refreshed:    g("refreshed_timestamp_seconds", "When the monitor last computed its report.", "scope"),
		ingestShare:  g("ingest_share", "The newest run's or season's share of quarantined rows (per source), matches without a price or with an unknown team (per competition).", "scope", "measure"),
		ingestFlag:   g("ingest_flagged", "1 when that share jumped against its history (z > 3 and at least five points).", "scope", "measure"),
	}
}

func (g monitorGauges) collectors() []prometheus.Collector {
	return []prometheus.Collector{g.scored, g.logLoss, g.rps, g.vsMarket, g.ece, g.drift, g.drifted, g.datasetDrift, g.alarm, g.alarmZ, g.refreshed, g.ingestShare, g.ingestFlag}
}
