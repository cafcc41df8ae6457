package server_test

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobutler/butler/internal/server"
	"github.com/gobutler/butler/internal/testutil/pgtest"
)

// BenchmarkFindDataset is one find_dataset request through the server's
// handler (token authentication, access log, search cache), without the
// network: its CPU and allocations per request.
func BenchmarkFindDataset(b *testing.B) {
	f := newFixture(b, pgtest.SQLite)
	tokens := filepath.Join(b.TempDir(), "tokens.yaml")
	tok, _, err := server.CreateToken(tokens, "alice", []string{"team"})
	if err != nil {
		b.Fatal(err)
	}
	s, err := server.New(b.Context(), server.Options{Auth: server.AuthTokens, TokensFile: tokens,
		Repositories: map[string]server.Repository{"main": {Config: f.root, Groups: []string{"team"}}}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	body := `{"dataset_type":"dict","data_id":{"instrument":"` + inst + `","detector":1},"collections":["chain"],"timespan":null}`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", repoPath+"find_dataset", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"dataset_ref":{`) {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}
