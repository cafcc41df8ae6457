package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	dto "github.com/prometheus/client_model/go"
)

// TestServe_FindBatches: find_dataset requests that queue up while the
// repository's connection is busy are answered several to a query, each
// with the answer it gets alone (found, not found, a chain's first, an
// unknown type or collection, a bad data ID value), on both dialects.
func TestServe_FindBatches(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := t.Context()
		root, b := repotest.NewOn(t, dialect, butler.CreateOptions{})
		repotest.AddInstrument(t, b, "Dummy", 4)
		if _, err := b.RegisterDatasetType(ctx, "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
			t.Fatal(err)
		}
		for run, dets := range map[string][]int{"run/a": {0, 1, 2}, "run/b": {1}} {
			for _, d := range dets {
				if _, err := b.Put(ctx, []byte(fmt.Sprintf("%s %d\n", run, d)), "dict", dimensions.DataID{"instrument": "Dummy", "detector": d}, run); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := b.ChainCollections(ctx, "chain", []string{"run/b", "run/a"}, butler.ChainOptions{}); err != nil {
			t.Fatal(err)
		}
		s, err := New(ctx, Options{Auth: AuthNone, DBConnections: 1, Repositories: map[string]Repository{"main": {Config: root, Groups: []string{"*"}}}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ts := httptest.NewServer(s)
		defer ts.Close()
		var bodies []string
		for _, colls := range []string{`["chain"]`, `["run/a"]`, `["run/b","run/a"]`, `["nope"]`} {
			for _, det := range []string{"0", "1", "2", "3", `"x"`} {
				bodies = append(bodies, `{"dataset_type":"dict","data_id":{"instrument":"Dummy","detector":`+det+`},"collections":`+colls+`,"timespan":null}`)
			}
		}
		bodies = append(bodies, `{"dataset_type":"nope","data_id":{"instrument":"Dummy","detector":1},"collections":["chain"],"timespan":null}`,
			`{"dataset_type":"dict","data_id":{"instrument":"Dummy","detector":1},"default_data_id":{"instrument":"Dummy"},"collections":["chain"],"timespan":null}`,
			`{"dataset_type":"dict","data_id":{"detector":2},"default_data_id":{"instrument":"Dummy"},"collections":["chain"],"timespan":null}`)
		post := func(body string) string {
			resp, err := http.Post(ts.URL+"/api/butler/repo/main/v1/find_dataset", "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return ""
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			return fmt.Sprintf("%d %s", resp.StatusCode, data)
		}
		// Alone, one after another: each its own query.
		want := make([]string, len(bodies))
		for i, body := range bodies {
			want[i] = post(body)
		}
		alone := histogram(t, s)
		if alone.GetSampleCount() == 0 || alone.GetSampleSum() != float64(alone.GetSampleCount()) {
			t.Fatalf("sequential finds: %d queries answered %v finds, want one each", alone.GetSampleCount(), alone.GetSampleSum())
		}
		// All at once, three times each, while the only connection turn is
		// held: they queue, then share queries.
		rp := s.repos["main"]
		rp.turns <- struct{}{}
		got := make([]string, 3*len(bodies))
		var wg sync.WaitGroup
		for i := range got {
			wg.Go(func() { got[i] = post(bodies[i%len(bodies)]) })
		}
		// The worker holds the first ones it took; the rest wait in the
		// queue, whose length stops growing once all have arrived.
		last, since := -1, time.Now()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && (last == -1 || time.Since(since) < 200*time.Millisecond); time.Sleep(5 * time.Millisecond) {
			if n := len(rp.finder.queue); n != last {
				last, since = n, time.Now()
			}
		}
		<-rp.turns
		wg.Wait()
		for i, g := range got {
			if w := want[i%len(bodies)]; g != w {
				t.Errorf("find %s in a batch:\n got %s\nwant %s", bodies[i%len(bodies)], g, w)
			}
		}
		all := histogram(t, s)
		queries, finds := all.GetSampleCount()-alone.GetSampleCount(), all.GetSampleSum()-alone.GetSampleSum()
		// 5 searches (type and collections) in 2 batches, and the first
		// find alone, at most.
		if finds != float64(len(got)) || queries > 11 {
			t.Errorf("%d concurrent finds: %v answered in %d queries, want them batched (at most 11)", len(got), finds, queries)
		}
	})
}

// histogram reads the server's find batch size histogram.
func histogram(t *testing.T, s *Server) *dto.Histogram {
	t.Helper()
	var m dto.Metric
	if err := s.metrics.findBatch.(interface{ Write(*dto.Metric) error }).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram()
}
