package server

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics, in a registry of its own (no
// global state, so that tests can run several servers in one process).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inFlight prometheus.Gauge
	queries  prometheus.Gauge
	refusals *prometheus.CounterVec
	// findBatch is how many finds each find query answered.
	findBatch prometheus.Histogram
	handler   http.Handler
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "butler_http_requests_total", Help: "HTTP requests answered, by route and status code.",
		}, []string{"route", "code"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "butler_http_errors_total", Help: "HTTP requests answered with a 5xx status, by route.",
		}, []string{"route"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "butler_http_request_duration_seconds", Help: "Time to answer an HTTP request (to the last byte), by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "butler_http_requests_in_flight", Help: "HTTP requests being served.",
		}),
		queries: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "butler_queries_in_flight", Help: "Streaming queries running.",
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "butler_query_refusals_total", Help: "Streaming queries refused by the concurrency limits, by reason (server, user).",
		}, []string{"reason"}),
		findBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "butler_find_batch_size", Help: "find_dataset requests answered by one database query (more when they queue up).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64},
		}),
	}
	m.reg.MustRegister(m.requests, m.errors, m.latency, m.inFlight, m.queries, m.refusals, m.findBatch,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

// routeMetrics are one route's series, looked up once, when first used (a
// label lookup hashes its values: per request, it was a percent of a find's
// CPU).
type routeMetrics struct {
	m               *metrics
	route           string
	okOnce, durOnce sync.Once
	ok              prometheus.Counter // requests answered 200
	duration        prometheus.Observer
}

func (m *metrics) route(route string) *routeMetrics { return &routeMetrics{m: m, route: route} }

func (rm *routeMetrics) observe(status int, d time.Duration) {
	if status == 200 {
		rm.okOnce.Do(func() { rm.ok = rm.m.requests.WithLabelValues(rm.route, "200") })
		rm.ok.Inc()
	} else {
		rm.m.requests.WithLabelValues(rm.route, strconv.Itoa(status)).Inc()
	}
	if status >= 500 {
		rm.m.errors.WithLabelValues(rm.route).Inc()
	}
	rm.durOnce.Do(func() { rm.duration = rm.m.latency.WithLabelValues(rm.route) })
	rm.duration.Observe(d.Seconds())
}
