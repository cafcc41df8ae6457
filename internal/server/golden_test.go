package server_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/server"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden answers")

// TestServe_ProtocolGolden pins the bytes of the answers (key order, nulls,
// number forms) of each route, on both dialects, for datasets with
// deterministic IDs. The shapes were checked by hand against the pydantic
// models of server_models.py at server.UpstreamCommit; -update rewrites them
// (from SQLite; PostgreSQL must answer the same).
func TestServe_ProtocolGolden(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		root, b := repotest.NewOn(t, dialect, butler.CreateOptions{})
		ctx := t.Context()
		repotest.AddInstrument(t, b, "Dummy", 2)
		if _, err := b.RegisterDatasetType(ctx, "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
			t.Fatal(err)
		}
		mode, _ := dataset.ParseIDMode("DATAID_TYPE_RUN")
		ref, err := b.Put(ctx, []byte("a: 1\n"), "dict", dimensions.DataID{"instrument": "Dummy", "detector": 1}, "run/a", butler.PutOptions{IDMode: mode})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.ChainCollections(ctx, "chain", []string{"run/a"}, butler.ChainOptions{}); err != nil {
			t.Fatal(err)
		}
		url, _ := serve(t, &fixture{root: root, b: b}, server.Options{})
		id := ref.ID.String()
		sig := regexp.MustCompile(`exp=\d+&sig=[0-9a-f]+`)
		for _, tc := range []struct {
			name, method, path string
			body               any
		}{
			{"dataset_type", "GET", "dataset_type/dict", nil},
			{"dataset", "GET", "dataset/" + id, nil},
			{"dataset_records", "GET", "dataset/" + id + "?dimension_records=true", nil},
			{"find_dataset", "POST", "find_dataset", map[string]any{"dataset_type": "dict", "data_id": map[string]any{"instrument": "Dummy", "detector": 1}, "collections": []string{"chain"}, "timespan": nil, "dimension_records": true}},
			{"find_dataset_none", "POST", "find_dataset", map[string]any{"dataset_type": "dict", "data_id": map[string]any{"instrument": "Dummy", "detector": 0}, "collections": []string{"chain"}, "timespan": nil}},
			{"missing_dataset_type", "GET", "dataset_type/nosuch", nil},
			{"expand_data_id", "POST", "expand_data_id", map[string]any{"data_id": map[string]any{"instrument": "Dummy", "detector": 0}}},
			{"collection_info", "GET", "collection_info?name=chain&include_doc=true&include_parents=true", nil},
			{"query_collection_info", "POST", "query_collection_info", map[string]any{"expression": []string{"*"}, "collection_types": []int{1, 2, 3, 4}, "flatten_chains": false, "include_chains": true, "include_parents": true, "include_summary": true, "include_doc": true, "summary_datasets": nil}},
			{"query_dataset_types", "POST", "query_dataset_types", map[string]any{"search": []string{"*", "nosuch"}}},
			{"get_file", "GET", "get_file/" + id, nil},
			{"query_execute", "POST", "query/execute", tree([]string{"instrument", "detector"}, map[string][]string{"dict": {"chain"}}, nil,
				map[string]any{"result_type": "dataset_ref", "dataset_type_name": "dict", "dimensions": []string{"instrument", "detector"}, "storage_class_name": "StructuredDataDict", "include_dimension_records": false, "find_first": true})},
			{"query_records", "POST", "query/execute", tree([]string{"instrument", "detector"}, nil, nil, map[string]any{"result_type": "dimension_record", "element": "detector"})},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var rd io.Reader
				if tc.body != nil {
					data, _ := json.Marshal(tc.body)
					rd = bytes.NewReader(data)
				}
				req, _ := http.NewRequest(tc.method, url+repoPath+tc.path, rd)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				got = []byte(strings.ReplaceAll(sig.ReplaceAllString(string(got), "exp=EXP&sig=SIG"), url, "http://HOST"))
				got = append([]byte(resp.Status+"\n"), got...)
				path := filepath.Join("testdata", "golden", tc.name+".txt")
				if *update && dialect == pgtest.SQLite {
					os.MkdirAll(filepath.Dir(path), 0o755)
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (write it: go test ./internal/server -run %s -update)", err, t.Name())
				}
				if d := cmp.Diff(string(want), string(got)); d != "" {
					t.Errorf("%s (-want +got):\n%s", path, d)
				}
			})
		}
	})
}
