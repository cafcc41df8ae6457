package interop_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/gobutler/butler/internal/registry/sqldb"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// TestDDL_MatchesPython: the tables of a repository made here are those the
// Python butler makes from the same universe, on both dialects: every table's
// columns (types, nullability, defaults), keys, constraints, indexes and (on
// PostgreSQL) sequences. Both repositories register the same dataset types, so
// the tables made on demand (dataset_tags_*, dataset_calibs_*) are compared too.
func TestDDL_MatchesPython(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		// Python is told to use the datasets manager version we write
		// (2.0.0, TAI ingest dates); it does not know our bridge version
		// 0.2.1, whose tables are those of 0.2.0.
		ours, py := e.newOurs("ours"), e.newPython("python", pythonManagers)
		types := []struct {
			name  string
			dims  []string
			calib bool
		}{
			{"cfg", []string{"instrument", "detector"}, false},
			{"bias", []string{"instrument", "detector"}, true},
			{"raw", []string{"instrument", "exposure", "detector"}, false},
		}
		var ops []op
		for _, tc := range types {
			args := append([]string{"register-dataset-type", ours, tc.name, "StructuredDataDict"}, tc.dims...)
			if tc.calib {
				args = append(args, "--is-calibration")
			}
			e.ours(args...)
			ops = append(ops, op{"op": "register", "repo": py, "name": tc.name, "dimensions": tc.dims, "storage_class": "StructuredDataDict", "calibration": tc.calib})
		}
		for i, r := range e.py(ops...) {
			mustOK(t, r, fmt.Sprint("register ", types[i].name))
		}
		want, got := e.ddl(py), e.ddl(ours)
		if len(want) < 40 {
			t.Fatalf("the Python repository has only %d tables", len(want))
		}
		names := map[string]bool{}
		for n := range want {
			names[n] = true
		}
		for n := range got {
			names[n] = true
		}
		sorted := make([]string, 0, len(names))
		for n := range names {
			sorted = append(sorted, n)
		}
		sort.Strings(sorted)
		for _, n := range sorted {
			if d := cmp.Diff(want[n], got[n]); d != "" {
				t.Errorf("table %s differs (-python +ours):\n%s", n, d)
			}
			e.c.add("ddl-tables", 1)
			e.c.add("ddl-items", len(want[n]))
		}
	})
}

// pythonManagers is the part of a seed config that makes the Python butler
// use the registry manager versions this butler writes.
const pythonManagers = `registry:
  managers:
    datasets:
      cls: lsst.daf.butler.registry.datasets.byDimensions.ByDimensionsDatasetRecordStorageManagerUUID
      schema_version: 2.0.0
`

// ddl describes every table of a repository's registry as sorted lines.
func (e *env) ddl(root string) map[string][]string {
	e.t.Helper()
	cfg := readRegistryConfig(e.t, root)
	if e.dialect == "sqlite" {
		return sqliteDDL(e.t, filepath.Join(root, "gen3.sqlite3"))
	}
	return pgDDL(e.t, cfg.Namespace)
}

type registryConfig struct {
	DB        string `yaml:"db"`
	Namespace string `yaml:"namespace"`
}

func readRegistryConfig(t *testing.T, root string) registryConfig {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "butler.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Registry registryConfig `yaml:"registry"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("%s/butler.yaml: %v", root, err)
	}
	return c.Registry
}

func queryStrings(t *testing.T, db *sql.DB, q string, args ...any) [][]string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
			if !v.Valid {
				row[i] = "NULL"
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

var checkRE = regexp.MustCompile(`(?i)CHECK\s*\(`)

// sqliteDDL reads the schema of a SQLite registry through its pragmas.
func sqliteDDL(t *testing.T, path string) map[string][]string {
	t.Helper()
	db, err := sqldb.OpenSQLite(context.Background(), path, false, true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string][]string{}
	for _, tb := range queryStrings(t, db.SQL, "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'") {
		name, text := tb[0], tb[1]
		var lines []string
		for _, c := range queryStrings(t, db.SQL, "SELECT name, upper(type), \"notnull\", dflt_value, pk FROM pragma_table_info(?)", name) {
			lines = append(lines, fmt.Sprintf("column %s %s notnull=%s default=%s pk=%s", c[0], c[1], c[2], c[3], c[4]))
		}
		for _, ix := range queryStrings(t, db.SQL, "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?)", name) {
			var cols []string
			for _, c := range queryStrings(t, db.SQL, "SELECT name FROM pragma_index_info(?) ORDER BY seqno", ix[0]) {
				cols = append(cols, c[0])
			}
			label := ix[0]
			if strings.HasPrefix(label, "sqlite_autoindex_") {
				label = "(auto)"
			}
			lines = append(lines, fmt.Sprintf("index %s unique=%s origin=%s partial=%s (%s)", label, ix[1], ix[2], ix[3], strings.Join(cols, ", ")))
		}
		fks := map[string][]string{}
		for _, fk := range queryStrings(t, db.SQL, "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq", name) {
			k := fk[0] + " -> " + fk[1] + " on delete " + fk[5] + " on update " + fk[4]
			fks[k] = append(fks[k], fk[2]+"="+fk[3])
		}
		for k, v := range fks {
			_, k, _ = strings.Cut(k, " -> ")
			lines = append(lines, fmt.Sprintf("foreign key (%s) -> %s", strings.Join(v, ", "), k))
		}
		for _, loc := range checkRE.FindAllStringIndex(text, -1) {
			lines = append(lines, "check "+normalizeSQL(balanced(text[loc[1]-1:])))
		}
		if strings.Contains(strings.ToUpper(text), "AUTOINCREMENT") {
			lines = append(lines, "autoincrement")
		}
		sort.Strings(lines)
		out[name] = lines
	}
	return out
}

// balanced returns the parenthesised text at the start of s.
func balanced(s string) string {
	depth := 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return s[:i+1]
			}
		}
	}
	return s
}

var spaceRE = regexp.MustCompile(`\s+`)

func normalizeSQL(s string) string {
	s = strings.ReplaceAll(s, `"`, "")
	return spaceRE.ReplaceAllString(strings.TrimSpace(s), " ")
}

// pgDDL reads the schema of a PostgreSQL registry from the catalogs.
func pgDDL(t *testing.T, schema string) map[string][]string {
	t.Helper()
	db := pgtest.Admin(t)
	strip := func(s string) string {
		s = strings.ReplaceAll(s, `"`+schema+`".`, "")
		s = strings.ReplaceAll(s, schema+".", "")
		return normalizeSQL(s)
	}
	out := map[string][]string{}
	for _, c := range queryStrings(t, db, `SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, column_default
		FROM information_schema.columns WHERE table_schema = $1`, schema) {
		out[c[0]] = append(out[c[0]], fmt.Sprintf("column %s %s(%s) nullable=%s default=%s", c[1], c[2], c[3], c[4], strip(c[5])))
	}
	for _, c := range queryStrings(t, db, `SELECT cl.relname, co.conname, co.contype, pg_get_constraintdef(co.oid)
		FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
		WHERE n.nspname = $1`, schema) {
		name := c[1]
		if c[2] == "c" || c[2] == "n" {
			name = "" // CHECK and NOT NULL constraint names are generated
		}
		out[c[0]] = append(out[c[0]], fmt.Sprintf("constraint %s %s %s", name, c[2], strip(c[3])))
	}
	for _, c := range queryStrings(t, db, `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = $1`, schema) {
		out[c[0]] = append(out[c[0]], fmt.Sprintf("index %s", strip(c[2])))
	}
	for _, c := range queryStrings(t, db, `SELECT sequence_name, data_type, start_value, increment FROM information_schema.sequences WHERE sequence_schema = $1`, schema) {
		out["(sequences)"] = append(out["(sequences)"], strings.Join(c, " "))
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out
}
