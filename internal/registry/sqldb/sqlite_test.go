package sqldb

import (
	"path/filepath"
	"testing"
)

// TestOpenSQLite_JournalPragmas: a WAL database is opened with
// synchronous=NORMAL and a memory map, found from its header; a rollback-journal
// database (shared file systems) keeps the defaults: FULL and no map.
func TestOpenSQLite_JournalPragmas(t *testing.T) {
	tests := []struct {
		journal        string
		wantSync       int // 1 NORMAL, 2 FULL
		wantMmap       bool
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
				var sync, mmap int64
				if err := db.Conn().QueryRow(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
					t.Fatal(err)
				}
				if err := db.Conn().QueryRow(ctx, "PRAGMA mmap_size").Scan(&mmap); err != nil {
					t.Fatal(err)
				}
				db.Close()
				if sync != int64(tt.wantSync) || (mmap > 0) != tt.wantMmap {
					t.Errorf("read-only %v: synchronous = %d, mmap_size = %d; want %d, mapped %v", ro, sync, mmap, tt.wantSync, tt.wantMmap)
				}
			}
		})
	}
	if _, known := walHeader(filepath.Join(t.TempDir(), "missing")); known {
		t.Errorf("walHeader of a missing file is known")
	}
}
