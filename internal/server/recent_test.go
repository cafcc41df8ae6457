package server_test

import (
	"bytes"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/internal/server"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	_ "modernc.org/sqlite"
)

// TestServe_DownloadRecent: the download of a URL get_file has just signed
// reads the file records get_file read, not the registry, for as long as
// the search cache is trusted (SearchCacheTTL); without it, and once the
// file is gone, the registry decides (404, never stale bytes or a 500).
func TestServe_DownloadRecent(t *testing.T) {
	f := newFixture(t, pgtest.SQLite)
	cached, _ := serve(t, f, server.Options{SearchCacheTTL: time.Hour})
	uncached, _ := serve(t, f, server.Options{SearchCacheTTL: -1})
	a, b := f.refs["run/a"][1], f.refs["run/a"][2]
	want, err := f.b.GetRef(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	ua, _ := getFile(t, cached, a.ID.String())
	ub, _ := getFile(t, cached, b.ID.String())
	un, _ := getFile(t, uncached, a.ID.String())

	// A purged dataset's file is gone: the recent records do not serve it.
	if err := f.b.Prune(t.Context(), []dataset.Ref{b}, butler.PruneOptions{Purge: true}); err != nil {
		t.Fatal(err)
	}
	if st, got, _ := fetch(t, ub, nil); st != 404 {
		t.Errorf("download of a purged dataset: %d %q, want 404", st, got)
	}

	// The file records go behind the servers' backs; the files stay.
	db, err := sql.Open("sqlite", filepath.Join(f.root, "gen3.sqlite3"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("DELETE FROM file_datastore_records"); err != nil {
		t.Fatal(err)
	}
	if st, got, _ := fetch(t, ua, nil); st != 200 || !bytes.Equal(got, want) {
		t.Errorf("download just after get_file: %d %q, want 200 from the records get_file read", st, got)
	}
	if st, got, _ := fetch(t, un, nil); st != 404 {
		t.Errorf("download without the cache, records gone: %d %q, want 404 (the registry was asked)", st, got)
	}

}
