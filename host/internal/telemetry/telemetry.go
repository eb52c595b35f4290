// Package telemetry holds the host's Prometheus metrics: HTTP requests,
// plugin calls and launches, predictions and the serving generation. One
// Metrics value per process, on its own registry, exposed at /metrics.
package telemetry

import (
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the host's instruments.
type Metrics struct {
	registry     *prometheus.Registry
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	pluginCalls  *prometheus.CounterVec
	pluginTime   *prometheus.HistogramVec
	launches     *prometheus.CounterVec
	predictions  *prometheus.CounterVec
	generation   prometheus.Gauge
	batchSize    prometheus.Histogram
	batchWait    prometheus.Histogram
	waiting      *prometheus.GaugeVec
	logWritten   atomic.Int64
	logDropped   atomic.Int64
	logPending   prometheus.Gauge
	buildInfo    *prometheus.GaugeVec
	grpcHandled  *prometheus.CounterVec
	grpcSeconds  *prometheus.HistogramVec
	monitor      monitorGauges

	httpMu  sync.RWMutex
	httpObs map[httpKey]httpObservers
}

type httpKey struct {
	route, method string
	code          int
}

// httpObservers are one route, method and code's instruments, looked up once:
// finding them by label values on every request costs more than the counting.
type httpObservers struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// New registers every instrument (and the Go runtime's) on a fresh registry.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "soccerpredict_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code."}, []string{"route", "method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "soccerpredict_http_request_duration_seconds",
			Help: "HTTP request latency by route pattern.", Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"route"}),
		pluginCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "soccerpredict_plugin_calls_total",
			Help: "Plugin calls by plugin, call and outcome (ok or error)."}, []string{"plugin", "call", "outcome"}),
		pluginTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "soccerpredict_plugin_call_duration_seconds",
			Help: "Plugin call latency.", Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .05, .25, 1, 5, 30}}, []string{"plugin", "call"}),
		launches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "soccerpredict_plugin_launches_total",
			Help: "Plugin process launches (relaunches after a crash included)."}, []string{"plugin"}),
		predictions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "soccerpredict_predictions_total",
			Help: "Forecasts served, by how they were made (computed or cache)."}, []string{"source"}),
		generation: prometheus.NewGauge(prometheus.GaugeOpts{Name: "soccerpredict_serving_generation",
			Help: "The generation (promotion) this process serves."}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "soccerpredict_prediction_batch_size",
			Help: "Fixtures per coalesced batch (one feature Compute and one model Predict call).", Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}}),
		batchWait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "soccerpredict_prediction_queue_wait_seconds",
			Help: "How long a fixture waited for a batch slot before its batch started.", Buckets: []float64{.00001, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05, .25}}),
		waiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "soccerpredict_worker_dependency_waiting",
			Help: "1 while the job worker holds its deliveries waiting for a dependency (store or model) to answer again."}, []string{"dependency"}),
		grpcHandled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "soccerpredict_grpc_server_handled_total",
			Help: "gRPC calls by method and gRPC status code (OK, InvalidArgument, Unavailable, …)."}, []string{"grpc_method", "grpc_code"}),
		grpcSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "soccerpredict_grpc_server_handling_seconds",
			Help: "gRPC call latency by method.", Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"grpc_method"}),
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "soccerpredict_build_info",
			Help: "1, labelled with the running binary's version, the commit it was built from and its Go version."}, []string{"version", "commit", "goversion"}),
		logPending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "soccerpredict_forecast_log_pending",
			Help: "Forecasts waiting in the buffer for their write to the forecast log."}),
	}
	m.monitor = newMonitorGauges()
	m.registry.MustRegister(m.monitor.collectors()...)
	m.registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "soccerpredict_forecast_log_written_total",
			Help: "Forecasts this process wrote to the forecast log."}, func() float64 { return float64(m.logWritten.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "soccerpredict_forecast_log_dropped_total",
			Help: "Forecasts this process could not log because the log's buffer was full."}, func() float64 { return float64(m.logDropped.Load()) }),
		m.buildInfo, m.grpcHandled, m.grpcSeconds, m.logPending, m.waiting, m.httpRequests, m.httpDuration, m.pluginCalls, m.pluginTime, m.launches, m.predictions, m.generation, m.batchSize, m.batchWait,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Build says which binary this is (soccerpredict_build_info).
func (m *Metrics) Build(version, commit string) {
	if m == nil {
		return
	}
	m.buildInfo.Reset()
	m.buildInfo.WithLabelValues(version, commit, runtime.Version()).Set(1)
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// HTTP records one request. The code label is the numeric status ("503"),
// so the usual code=~"5.." queries work.
func (m *Metrics) HTTP(route, method string, code int, d time.Duration) {
	if m == nil {
		return
	}
	k := httpKey{route, method, code}
	m.httpMu.RLock()
	o, ok := m.httpObs[k]
	m.httpMu.RUnlock()
	if !ok {
		o = httpObservers{m.httpRequests.WithLabelValues(route, method, strconv.Itoa(code)), m.httpDuration.WithLabelValues(route)}
		m.httpMu.Lock()
		if m.httpObs == nil {
			m.httpObs = map[httpKey]httpObservers{}
		}
		m.httpObs[k] = o
		m.httpMu.Unlock()
	}
	o.requests.Inc()
	o.duration.Observe(d.Seconds())
}

// GRPC records one gRPC call ("/inference.GRPCInferenceService/ModelInfer")
// with its gRPC status code's name.
func (m *Metrics) GRPC(method, code string, d time.Duration) {
	if m == nil {
		return
	}
	m.grpcHandled.WithLabelValues(method, code).Inc()
	m.grpcSeconds.WithLabelValues(method).Observe(d.Seconds())
}

// PluginCall records one plugin call.
func (m *Metrics) PluginCall(plugin, call string, d time.Duration, err error) {
	if m == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.pluginCalls.WithLabelValues(plugin, call, outcome).Inc()
	m.pluginTime.WithLabelValues(plugin, call).Observe(d.Seconds())
}

// PluginLaunch records a plugin process launch.
func (m *Metrics) PluginLaunch(plugin string) {
	if m == nil {
		return
	}
	m.launches.WithLabelValues(plugin).Inc()
}

// Predictions records forecasts served, computed or from the cache.
func (m *Metrics) Predictions(computed, cached int) {
	if m == nil {
		return
	}
	m.predictions.WithLabelValues("computed").Add(float64(computed))
	m.predictions.WithLabelValues("cache").Add(float64(cached))
}

// Generation records the generation now serving.
func (m *Metrics) Generation(id int64) {
	if m == nil {
		return
	}
	m.generation.Set(float64(id))
}

// Batch records one coalesced batch: its size and each fixture's queue wait.
func (m *Metrics) Batch(size int, waited []time.Duration) {
	if m == nil {
		return
	}
	m.batchSize.Observe(float64(size))
	for _, w := range waited {
		m.batchWait.Observe(w.Seconds())
	}
}

// DependencyWaiting records whether the job worker waits for a dependency.
func (m *Metrics) DependencyWaiting(dependency string, waiting bool) {
	if m == nil {
		return
	}
	v := 0.0
	if waiting {
		v = 1
	}
	m.waiting.WithLabelValues(dependency).Set(v)
}

// ForecastLog records the forecast log's counts.
func (m *Metrics) ForecastLog(written, dropped int64, pending int) {
	if m == nil {
		return
	}
	m.logWritten.Store(written)
	m.logDropped.Store(dropped)
	m.logPending.Set(float64(pending))
}
