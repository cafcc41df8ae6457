package sqldb

import (
	"path/filepath"
	"testing"
)

// TestOpenSQLite_JournalPragmas: a WAL database is opened with
// synchronous=NORMAL, found from its header, and reads bulk results through a
// memory map; a rollback-journal database (shared file systems) keeps FULL
// and is never mapped. Short queries are never mapped.
func TestOpenSQLite_JournalPragmas(t *testing.T) {
	tests := []struct {
		journal        string
		wantSync       int // 1 NORMAL, 2 FULL
		wantBulkMmap   bool
		wantHeaderWAL  bool
		wantHeaderRead bool
	}{
		{"wal", 1, true, true, true},
		{"delete", 2, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.journal, func(t *testing.T) {
			ctx := t.Context()
			path := filepath.Join(t.TempDir(), "gen3.sqlite3")
			db, err := OpenSQLite(ctx, path, true, false)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Conn().Exec(ctx, "CREATE TABLE x (a INTEGER)"); err != nil {
				t.Fatal(err)
			}
			db.Close()
			if err := SetJournalMode(ctx, path, tt.journal); err != nil {
				t.Fatal(err)
			}
			if wal, known := walHeader(path); wal != tt.wantHeaderWAL || known != tt.wantHeaderRead {
				t.Errorf("walHeader = %v, %v; want %v, %v", wal, known, tt.wantHeaderWAL, tt.wantHeaderRead)
			}
			for _, ro := range []bool{false, true} {
				db, err := OpenSQLite(ctx, path, false, ro)
				if err != nil {
					t.Fatal(err)
				}
				db.SQL.SetMaxOpenConns(1) // so "after" reads the connection the bulk read had
				mmap := func(c Conn) int64 {
					t.Helper()
					var n int64
					if err := c.QueryRow(ctx, "PRAGMA mmap_size").Scan(&n); err != nil {
						t.Fatal(err)
					}
					return n
				}
				var sync int64
				if err := db.Conn().QueryRow(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
					t.Fatal(err)
				}
				before := mmap(db.Conn())
				bulk, release, err := db.BulkReader(ctx)
				if err != nil {
					t.Fatal(err)
				}
				during := mmap(bulk)
				release()
				after := mmap(db.Conn())
				db.Close()
				if sync != int64(tt.wantSync) {
					t.Errorf("read-only %v: synchronous = %d, want %d", ro, sync, tt.wantSync)
				}
				if before != 0 || after != 0 || (during > 0) != tt.wantBulkMmap {
					t.Errorf("read-only %v: mmap_size before, during and after a bulk read = %d, %d, %d; want 0, mapped %v, 0", ro, before, during, after, tt.wantBulkMmap)
				}
			}
		})
	}
	if _, known := walHeader(filepath.Join(t.TempDir(), "missing")); known {
		t.Errorf("walHeader of a missing file is known")
	}
}
