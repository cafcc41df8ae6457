package server

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestMetrics_TextFormat pins the exposition: families with HELP and TYPE,
// labels in name order and escaped, cumulative histogram buckets with +Inf,
// _sum and _count, and the runtime and process metrics scrapers expect.
func TestMetrics_TextFormat(t *testing.T) {
	m := newMetrics()
	m.observe("find_dataset", 200, 3*time.Millisecond)
	m.observe("find_dataset", 200, 20*time.Millisecond)
	m.observe("find_dataset", 503, 90*time.Second)
	m.refusals.WithLabelValues("a\"b\\c\nd").Inc()
	m.inFlight.Inc()
	m.inFlight.Inc()
	m.inFlight.Dec()
	rec := httptest.NewRecorder()
	m.handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	body := rec.Body.String()
	for _, want := range []string{
		"# HELP butler_http_requests_total HTTP requests answered, by route and status code.\n# TYPE butler_http_requests_total counter\n" +
			"butler_http_requests_total{code=\"200\",route=\"find_dataset\"} 2\nbutler_http_requests_total{code=\"503\",route=\"find_dataset\"} 1\n",
		"butler_http_errors_total{route=\"find_dataset\"} 1\n",
		"# TYPE butler_http_request_duration_seconds histogram\n",
		"butler_http_request_duration_seconds_bucket{route=\"find_dataset\",le=\"0.0025\"} 0\n",
		"butler_http_request_duration_seconds_bucket{route=\"find_dataset\",le=\"0.005\"} 1\n",
		"butler_http_request_duration_seconds_bucket{route=\"find_dataset\",le=\"0.025\"} 2\n",
		"butler_http_request_duration_seconds_bucket{route=\"find_dataset\",le=\"60\"} 2\n",
		"butler_http_request_duration_seconds_bucket{route=\"find_dataset\",le=\"+Inf\"} 3\n",
		"butler_http_request_duration_seconds_sum{route=\"find_dataset\"} 90.023\n",
		"butler_http_request_duration_seconds_count{route=\"find_dataset\"} 3\n",
		"butler_http_requests_in_flight 1\n",
		"butler_queries_in_flight 0\n",
		`butler_query_refusals_total{reason="a\"b\\c\nd"} 1` + "\n",
		"# TYPE go_goroutines gauge\n",
		"# TYPE process_cpu_seconds_total counter\n",
		"# TYPE process_resident_memory_bytes gauge\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q; got:\n%s", want, body)
		}
	}
}
