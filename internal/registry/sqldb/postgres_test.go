package sqldb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/testutil/pgtest"
)

func TestMain(m *testing.M) {
	stop := pgtest.Start()
	defer stop()
	m.Run()
}

// Expected digests come from Python: hashlib.blake2b(name.encode(), digest_size=4).hexdigest().
func TestShrinkName(t *testing.T) {
	long := "fkey_visit_detector_region_skypix_overlap_visit_detector_region_skypix_overlap_summary_skypix_system_skypix_level_instrument_skypix_system_skypix_level_instrument"
	tests := []struct{ in, want string }{
		{"collection_seq_collection_id", "collection_seq_collection_id"},
		{strings.Repeat("x", 63), strings.Repeat("x", 63)},
		{long, long[:54] + "_7a87a402"},
	}
	for _, tt := range tests {
		if got := shrinkName(tt.in); got != tt.want {
			t.Errorf("shrinkName(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := shrinkName(tt.in); len(got) > 63 {
			t.Errorf("shrinkName(%q) is %d long", tt.in, len(got))
		}
	}
}

func TestPostgresRebind(t *testing.T) {
	d := postgres{}
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT a FROM t WHERE a = ? AND b IN (?, ?)", "SELECT a FROM t WHERE a = $1 AND b IN ($2, $3)"},
		{`SELECT '?' || "we?ird" FROM t WHERE x = ?`, `SELECT '?' || "we?ird" FROM t WHERE x = $1`},
		{`SELECT 'it''s ?' WHERE x = ?`, `SELECT 'it''s ?' WHERE x = $1`},
		{"SELECT 1 WHERE " + GlobMatch("t.name", "?") + " AND y = ?", "SELECT 1 WHERE ((t.name)::text ~ $1) AND y = $2"},
	}
	for _, tt := range tests {
		if got := d.Rebind(tt.in); got != tt.want {
			t.Errorf("Rebind(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := (sqlite{}).Rebind("x AND " + GlobMatch("a", "?")); got != "x AND (a GLOB ?)" {
		t.Errorf("sqlite Rebind(glob) = %q", got)
	}
}

func TestGlobRegexp(t *testing.T) {
	tests := []struct {
		glob       string
		match, not []string
	}{
		{"HSC*", []string{"HSC", "HSC/raw"}, []string{"hsc", "xHSC"}},
		{"a?c", []string{"abc", "a.c"}, []string{"ac", "abbc"}},
		{"r[0-9]", []string{"r1"}, []string{"ra", "r10"}},
		{"r[^0-9]", []string{"ra"}, []string{"r1"}},
		{"r[!ab]", []string{"rc"}, []string{"ra"}},
		{"a.b+(c)|$^", []string{"a.b+(c)|$^"}, []string{"axb+(c)|$^"}},
		{`back\slash`, []string{`back\slash`}, []string{"backslash"}},
		{"open[", []string{"open["}, []string{"open"}},
	}
	for _, tt := range tests {
		re := regexp.MustCompile(globRegexp(tt.glob))
		for _, s := range tt.match {
			if !re.MatchString(s) {
				t.Errorf("glob %q as %q does not match %q", tt.glob, re, s)
			}
		}
		for _, s := range tt.not {
			if re.MatchString(s) {
				t.Errorf("glob %q as %q matches %q", tt.glob, re, s)
			}
		}
	}
}

func TestTimespanArgs_RoundTrip(t *testing.T) {
	tests := []struct {
		name       string
		begin, end int64
		valid      bool
		pg         any
	}{
		{"bounded", 100, 200, true, "[100,200)"},
		{"unbounded begin", TimespanMin, 200, true, "[,200)"},
		{"unbounded end", 100, TimespanMax, true, "[100,)"},
		{"unbounded", TimespanMin, TimespanMax, true, "[,)"},
		{"null", 0, 0, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, d := range []Dialect{sqlite{}, postgres{}} {
				args := d.TimespanArgs(tt.begin, tt.end, tt.valid)
				if d.Name() == "postgresql" && args[0] != tt.pg {
					t.Errorf("postgres TimespanArgs = %v, want %v", args[0], tt.pg)
				}
				b, e, ok, err := d.ScanTimespan(args)
				if err != nil || ok != tt.valid || (ok && (b != tt.begin || e != tt.end)) {
					t.Errorf("%s ScanTimespan(%v) = %d, %d, %v, %v; want %d, %d, %v", d.Name(), args, b, e, ok, err, tt.begin, tt.end, tt.valid)
				}
			}
		})
	}
	// The server's canonical forms.
	for in, want := range map[string][2]int64{"(,5)": {TimespanMin, 5}, "[3,)": {3, TimespanMax}, "empty": {TimespanMax, TimespanMin}, "(2,5]": {3, 6}} {
		b, e, ok, err := postgres{}.ScanTimespan([]any{in})
		if err != nil || !ok || b != want[0] || e != want[1] {
			t.Errorf("ScanTimespan(%q) = %d, %d, %v, %v; want %v", in, b, e, ok, err, want)
		}
	}
	if _, _, _, err := (postgres{}).ScanTimespan([]any{"[x,1)"}); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("ScanTimespan(garbage) error = %v, want invalid", err)
	}
}

func TestPostgresCreateTable(t *testing.T) {
	long := "visit_detector_region_skypix_overlap"
	tbl := Table{
		Name: "dataset_calibs_00000001",
		Columns: []Column{{Name: "id", Type: Int64, NotNull: true, AutoIncrement: true}, {Name: "dataset_id", Type: UUID, NotNull: true},
			{Name: "band", Type: String, Length: 32, NotNull: true}, {Name: "doc", Type: String, Length: 64},
			{Name: "timespan", Type: Timespan, NotNull: true}},
		PrimaryKey:  []string{"id"},
		ForeignKeys: []ForeignKey{{Columns: []string{"band"}, Table: long + "_summary_with_a_very_long_name", Target: []string{"band"}, OnDelete: "CASCADE"}},
		Indexes:     [][]string{{"band", "timespan"}},
	}
	got := strings.Join(postgres{}.CreateTable("repo", tbl), ";\n")
	for _, want := range []string{
		`CREATE SEQUENCE "repo"."dataset_calibs_00000001_seq_id"`,
		`"id" BIGINT NOT NULL`, // no default, as daf_butler makes it: INSERTs call nextval (NextID)
		`"dataset_id" UUID NOT NULL`, `"band" VARCHAR(32) NOT NULL`, `"doc" TEXT,`,
		`"timespan" INT8RANGE DEFAULT '(,)'::int8range NOT NULL`,
		`REFERENCES "repo"."visit_detector_region_skypix_overlap_summary_with_a_very_long_name" ("band") ON DELETE CASCADE`,
		`CREATE INDEX "dataset_calibs_00000001_idx_band_timespan" ON "repo"."dataset_calibs_00000001" ("band", "timespan")`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("DDL lacks %s:\n%s", want, got)
		}
	}
	for _, m := range regexp.MustCompile(`(?:CONSTRAINT|INDEX) "([^"]+)"`).FindAllStringSubmatch(got, -1) {
		if len(m[1]) > 63 {
			t.Errorf("identifier %q is %d characters", m[1], len(m[1]))
		}
	}
}

func openPG(t *testing.T, dsn, schema string, create, readOnly bool) (*DB, error) {
	t.Helper()
	db, err := OpenPostgres(context.Background(), dsn, redact(dsn), schema, create, readOnly)
	if err == nil {
		t.Cleanup(func() { db.Close() })
	}
	return db, err
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "?"
	}
	return u.Redacted()
}

func TestOpenPostgres_SchemaAndTimeZone(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	schema := "new_" + strings.ToLower(t.Name()[len(t.Name())-8:])
	defer pgtest.Admin(t).Exec("DROP SCHEMA IF EXISTS " + quoteIdent(schema) + " CASCADE")
	if _, err := openPG(t, dsn, schema, false, false); !errors.Is(err, errs.ErrNotFound) || !strings.Contains(err.Error(), schema) {
		t.Fatalf("open missing schema without create: %v, want not found naming it", err)
	}
	db, err := openPG(t, dsn, schema, true, false)
	if err != nil {
		t.Fatalf("open with create: %v", err)
	}
	if db.Schema != schema || db.T("x") != `"`+schema+`"."x"` {
		t.Errorf("Schema = %q, T(x) = %s", db.Schema, db.T("x"))
	}
	var tz string
	if err := db.Conn().QueryRow(ctx, "SHOW TIME ZONE").Scan(&tz); err != nil || tz != "UTC" {
		t.Errorf("time zone = %q (%v), want UTC", tz, err)
	}
	if strings.Contains(db.String(), "@") && strings.Contains(db.String(), ":") && !strings.Contains(db.String(), "xxxxx") {
		u, _ := url.Parse(dsn)
		if p, _ := u.User.Password(); strings.Contains(db.String(), p) {
			t.Errorf("String() shows the password: %s", db)
		}
	}
}

func TestOpenPostgres_Errors(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	admin := pgtest.Admin(t)
	t.Run("btree_gist missing", func(t *testing.T) {
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE no_gist"); err != nil {
			t.Fatal(err)
		}
		defer admin.ExecContext(ctx, "DROP DATABASE no_gist WITH (FORCE)")
		u, _ := url.Parse(dsn)
		u.Path = "/no_gist"
		_, err := openPG(t, u.String(), "", true, false)
		if !errors.Is(err, errs.ErrUnsupported) || !strings.Contains(err.Error(), "CREATE EXTENSION btree_gist;") {
			t.Errorf("open without btree_gist: %v, want advice to CREATE EXTENSION btree_gist;", err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		user, _ := pgtest.Role(t)
		_, err := openPG(t, pgtest.URL(t, user, "not-the-password"), pgtest.Schema(t), false, false)
		if !errors.Is(err, errs.ErrPermission) || !strings.Contains(err.Error(), `user "`+user+`"`) || strings.Contains(err.Error(), "not-the-password") {
			t.Errorf("open with a wrong password: %v, want permission error naming the user and not the password", err)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		u, _ := url.Parse(dsn)
		u.Host = "127.0.0.1:1"
		_, err := openPG(t, u.String(), "s", false, false)
		if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || !strings.Contains(err.Error(), "as user") || !strings.Contains(err.Error(), "listening") {
			t.Errorf("open on a closed port: %v, want a message naming URL, user and the cause", err)
		}
		if p, _ := u.User.Password(); err != nil && strings.Contains(err.Error(), p) {
			t.Errorf("error shows the password: %v", err)
		}
	})
	t.Run("no grant", func(t *testing.T) {
		schema := pgtest.Schema(t)
		user, pw := pgtest.Role(t)
		_, err := openPG(t, pgtest.URL(t, user, pw), schema, false, false)
		if !errors.Is(err, errs.ErrPermission) || !strings.Contains(err.Error(), user) || !strings.Contains(err.Error(), schema) {
			t.Errorf("open without a grant: %v, want permission error naming user and schema", err)
		}
	})
}

func TestPostgres_ClassifyAndReadOnly(t *testing.T) {
	ctx := context.Background()
	schema := pgtest.Schema(t)
	db, err := openPG(t, pgtest.DSN(t), schema, false, false)
	if err != nil {
		t.Fatal(err)
	}
	tables := []Table{
		{Name: "parent", Columns: []Column{{Name: "id", Type: Int64, NotNull: true, AutoIncrement: true}, {Name: "name", Type: String, Length: 64, NotNull: true}},
			PrimaryKey: []string{"id"}, Unique: [][]string{{"name"}}},
		{Name: "child", Columns: []Column{{Name: "parent_id", Type: Int64, NotNull: true}, {Name: "span", Type: Timespan}, {Name: "ok", Type: Bool}},
			PrimaryKey: []string{"parent_id"}, ForeignKeys: []ForeignKey{{Columns: []string{"parent_id"}, Table: "parent", Target: []string{"id"}}}},
	}
	var id int64
	err = db.Tx(ctx, func(c Conn) error {
		if err := db.CreateTables(ctx, c, tables); err != nil {
			return err
		}
		idCol, idVal := db.AutoID("parent", "id")
		if err := c.QueryRow(ctx, "INSERT INTO "+db.T("parent")+" ("+idCol+"name) VALUES ("+idVal+"?) RETURNING id", "a").Scan(&id); err != nil {
			return err
		}
		args := append([]any{id}, db.Dialect.TimespanArgs(10, TimespanMax, true)...)
		_, err := c.Exec(ctx, "INSERT INTO "+db.T("child")+" (parent_id, span, ok) VALUES (?, ?, true)", args...)
		return err
	})
	if err != nil {
		t.Fatalf("create and fill: %v", err)
	}
	for _, name := range []string{"parent", "child"} {
		if ok, err := db.TableExists(ctx, db.Conn(), name); !ok || err != nil {
			t.Errorf("TableExists(%s) = %v, %v", name, ok, err)
		}
	}
	var span any
	var ok any
	if err := db.Conn().QueryRow(ctx, "SELECT span, ok FROM "+db.T("child")).Scan(&span, &ok); err != nil {
		t.Fatal(err)
	}
	if b, e, valid, err := db.Dialect.ScanTimespan([]any{span}); err != nil || !valid || b != 10 || e != TimespanMax {
		t.Errorf("timespan read back as %v: %d, %d, %v, %v", span, b, e, valid, err)
	}
	if ok != true {
		t.Errorf("BOOLEAN read back as %v (%T)", ok, ok)
	}
	var n int
	err = db.Conn().QueryRow(ctx, "SELECT count(*) FROM "+db.T("child")+" WHERE "+db.Dialect.TimespanBound("", "span", false)+" = ? AND "+
		db.Dialect.TimespanBound("", "span", true)+" = ?", 10, TimespanMax).Scan(&n)
	if err != nil || n != 1 {
		t.Errorf("TimespanBound select: %d, %v", n, err)
	}
	err = db.Conn().QueryRow(ctx, "SELECT count(*) FROM "+db.T("parent")+" WHERE "+GlobMatch("name", "?"), GlobPattern("[a-c]")).Scan(&n)
	if err != nil || n != 1 {
		t.Errorf("GlobMatch select: %d, %v", n, err)
	}
	tests := []struct {
		name string
		sql  string
		args []any
		want error
	}{
		{"unique", "INSERT INTO " + db.T("parent") + " (id, name) VALUES (nextval('" + db.T("parent_seq_id") + "'), ?)", []any{"a"}, errs.ErrConflict},
		{"foreign key", "INSERT INTO " + db.T("child") + " (parent_id) VALUES (?)", []any{int64(999)}, errs.ErrConflict},
		{"not null", "INSERT INTO " + db.T("parent") + " (name) VALUES (NULL)", nil, errs.ErrInvalid},
		{"missing table", "SELECT * FROM " + db.T("nope"), nil, errs.ErrNotFound},
		{"existing table", "CREATE TABLE " + db.T("parent") + " (x BIGINT)", nil, errs.ErrConflict},
	}
	for _, tt := range tests {
		_, err := db.Conn().Exec(ctx, tt.sql, tt.args...)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}

	ro, err := openPG(t, pgtest.DSN(t), schema, false, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := ro.Tx(ctx, func(Conn) error { return nil }); !errors.Is(err, errs.ErrReadOnly) {
		t.Errorf("Tx on read-only DB: %v, want read-only", err)
	}
	_, err = ro.Conn().Exec(ctx, "INSERT INTO "+ro.T("parent")+" (name) VALUES ('b')")
	if !errors.Is(err, errs.ErrReadOnly) || strings.Contains(err.Error(), "SQLSTATE") {
		t.Errorf("write on read-only connection: %v, want a plain read-only error", err)
	}
	if err := ro.Conn().QueryRow(ctx, "SELECT count(*) FROM "+ro.T("parent")).Scan(&n); err != nil || n != 1 {
		t.Errorf("read on read-only DB: %d, %v", n, err)
	}
}

// A server-side disconnect (what a restart does to every session) must not
// fail the next read: the pool reconnects and the read is tried again.
func TestPostgres_ReadSurvivesTerminatedSessions(t *testing.T) {
	ctx := context.Background()
	schema := pgtest.Schema(t)
	user, pw := pgtest.Role(t)
	admin := pgtest.Admin(t)
	if _, err := admin.ExecContext(ctx, "GRANT USAGE ON SCHEMA "+quoteIdent(schema)+" TO "+quoteIdent(user)); err != nil {
		t.Fatal(err)
	}
	db, err := openPG(t, pgtest.URL(t, user, pw), schema, false, true)
	if err != nil {
		t.Fatal(err)
	}
	db.SQL.SetMaxIdleConns(4)
	for round := 0; round < 3; round++ {
		var one int
		if err := db.Conn().QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Fatalf("round %d: read before terminate: %v", round, err)
		}
		var killed int
		if err := admin.QueryRowContext(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1", user).Scan(&killed); err != nil {
			t.Fatal(err)
		}
		if killed == 0 {
			t.Fatalf("round %d: no session of %s to terminate", round, user)
		}
		if err := db.Conn().QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("round %d: read after terminate: %v", round, err)
		}
		rows, err := db.Conn().Query(ctx, "SELECT generate_series(1, 3)")
		if err != nil {
			t.Fatalf("round %d: query after terminate: %v", round, err)
		}
		rows.Close()
	}
}

// A transaction whose session dies is reported as transient (nothing was
// committed, so the caller may run it again), and the next one succeeds.
func TestPostgres_TxLostConnectionIsTransient(t *testing.T) {
	ctx := context.Background()
	schema := pgtest.Schema(t)
	user, pw := pgtest.Role(t)
	admin := pgtest.Admin(t)
	if _, err := admin.ExecContext(ctx, "GRANT ALL ON SCHEMA "+quoteIdent(schema)+" TO "+quoteIdent(user)); err != nil {
		t.Fatal(err)
	}
	db, err := openPG(t, pgtest.URL(t, user, pw), schema, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Conn().Exec(ctx, "CREATE TABLE "+db.T("n")+" (x BIGINT)"); err != nil {
		t.Fatal(err)
	}
	kill := func() {
		if _, err := admin.ExecContext(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", user); err != nil {
			t.Fatal(err)
		}
	}
	err = db.Tx(ctx, func(c Conn) error {
		if _, err := c.Exec(ctx, "INSERT INTO "+db.T("n")+" VALUES (1)"); err != nil {
			return err
		}
		kill()
		_, err := c.Exec(ctx, "INSERT INTO "+db.T("n")+" VALUES (2)")
		return err
	})
	if !IsTransient(err) || !errors.Is(err, errs.ErrBusy) {
		t.Fatalf("transaction on a killed session: %v, want a transient (busy) error", err)
	}
	kill() // idle connections too: the next transaction must find a live one
	if err := db.Tx(ctx, func(c Conn) error {
		_, err := c.Exec(ctx, "INSERT INTO "+db.T("n")+" VALUES (3)")
		return err
	}); err != nil {
		t.Fatalf("transaction after the sessions were killed: %v", err)
	}
	var sum int
	if err := db.Conn().QueryRow(ctx, "SELECT coalesce(sum(x), 0) FROM "+db.T("n")).Scan(&sum); err != nil || sum != 3 {
		t.Errorf("committed rows sum to %d (%v), want 3: only the retried transaction", sum, err)
	}
}

// A connection lost while rows are read comes from database/sql unclassified
// (rows.Next, Scan, Err); it is still transient, and a lost commit never is.
func TestIsTransient_Unclassified(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("find dict: %w", io.ErrUnexpectedEOF), true},
		{fmt.Errorf("scan: %w", syscall.ECONNRESET), true},
		{fmt.Errorf("%w: %w: %w", errs.ErrBusy, ErrCommitUnknown, io.ErrUnexpectedEOF), false},
		{fmt.Errorf("find: %w", context.Canceled), false},
		{errors.New("no such column"), false},
	} {
		if got := IsTransient(tc.err); got != tc.want {
			t.Errorf("IsTransient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
