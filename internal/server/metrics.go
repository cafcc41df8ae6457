package server

import (
	"net/http"
	"strconv"
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
	handler  http.Handler
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
	}
	m.reg.MustRegister(m.requests, m.errors, m.latency, m.inFlight, m.queries, m.refusals,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	if status >= 500 {
		m.errors.WithLabelValues(route).Inc()
	}
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}
