package registry

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry/sqldb"
	"github.com/gobutler/butler/sphgeom"
	"github.com/gobutler/butler/timespan"
)

// InsertMode says what to do when a record with the same key exists.
type InsertMode int

const (
	// InsertNew fails with a conflict when the record exists.
	InsertNew InsertMode = iota
	// InsertSkip leaves an existing record as it is.
	InsertSkip
	// InsertReplace overwrites an existing record.
	InsertReplace
)

// recordColumns lists an element's record columns in table order, with their SQL
// names (timespan expands to two columns on SQLite).
func (r *Registry) recordColumns(e *dimensions.Element) (fields []string, sqlCols []string) {
	t := elementTable(e, r.Universe.Version)
	for _, c := range t.Columns {
		fields = append(fields, c.Name)
		if c.Type == sqldb.Timespan && !r.db.Dialect.SupportsTimespanRange() {
			sqlCols = append(sqlCols, c.Name+"_begin", c.Name+"_end")
			continue
		}
		sqlCols = append(sqlCols, c.Name)
	}
	return fields, sqlCols
}

func (r *Registry) recordArgs(e *dimensions.Element, fields []string, rec dimensions.Record) ([]any, error) {
	var args []any
	for _, f := range fields {
		v, ok := rec.Values[f]
		if f == "timespan" {
			ts, isSpan := v.(timespan.Timespan)
			args = append(args, r.db.Dialect.TimespanArgs(ts.Begin, ts.End, ok && isSpan)...)
			continue
		}
		if !ok {
			v = nil
		}
		if b, isBytes := v.([]byte); isBytes && binaryField(e, f) {
			// daf_butler stores hashes and regions as base64 text.
			v = base64.StdEncoding.EncodeToString(b)
		}
		args = append(args, v)
	}
	return args, nil
}

// binaryField reports whether a record field holds bytes (hash, region, blob),
// which the tables keep as base64 text.
func binaryField(e *dimensions.Element, name string) bool {
	if name == "region" && e.Spatial != "" {
		return true
	}
	for _, fs := range [][]dimensions.Field{e.Keys, e.Metadata} {
		for _, f := range fs {
			if f.Name == name {
				return f.Type == "hash" || f.Type == "region" || f.Type == "blob"
			}
		}
	}
	return false
}

// insertRecords writes dimension records of one element.
func (r *Registry) insertRecords(ctx context.Context, c sqldb.Conn, element string, recs []dimensions.Record, mode InsertMode) error {
	e, ok := r.Universe.Element(element)
	if !ok || !e.HasTable() {
		return fmt.Errorf("insert %s records: %w: no such stored dimension element", element, errs.ErrInvalid)
	}
	fields, cols := r.recordColumns(e)
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = r.db.Q(c)
	}
	stmt := "INSERT INTO " + r.db.T(e.Name) + " (" + strings.Join(quoted, ", ") + ") VALUES (" + sqldb.Placeholders(len(cols)) + ")"
	switch mode {
	case InsertSkip:
		stmt += " ON CONFLICT DO NOTHING"
	case InsertReplace:
		// An upsert, not a delete and insert, so rows referring to the record stay valid.
		pk := elementTable(e, r.Universe.Version).PrimaryKey
		var sets []string
		for _, c := range cols {
			if !contains(pk, c) {
				sets = append(sets, r.db.Q(c)+" = excluded."+r.db.Q(c))
			}
		}
		qpk := make([]string, len(pk))
		for i, k := range pk {
			qpk[i] = r.db.Q(k)
		}
		if len(sets) == 0 {
			stmt += " ON CONFLICT DO NOTHING"
		} else {
			stmt += " ON CONFLICT (" + strings.Join(qpk, ", ") + ") DO UPDATE SET " + strings.Join(sets, ", ")
		}
	}
	spatial := e.Spatial != "" && r.Universe.CommonSkyPix != nil
	var written []dimensions.Record // records whose skypix overlap rows must be (re)written
	for _, rec := range recs {
		// Missing values are the input's fault: named here, the same on both dialects.
		if err := dimensions.CheckRecord(dimensions.Record{Element: e, Values: rec.Values}); err != nil {
			return err
		}
	}
	if bulk := mode == InsertNew || (mode == InsertSkip && !spatial); bulk {
		// In bulk: every row is written (InsertNew), or which ones were need
		// not be known (no skypix overlap rows to add).
		on := sqldb.FailOnConflict
		if mode == InsertSkip {
			on = sqldb.SkipOnConflict
		}
		if err := r.bulkRecords(ctx, c, e, fields, cols, recs, on); err != nil {
			return err
		}
		if spatial {
			written = recs
		}
	} else {
		for _, rec := range recs {
			args, err := r.recordArgs(e, fields, rec)
			if err != nil {
				return err
			}
			res, err := c.Exec(ctx, stmt, args...)
			if err != nil {
				return fmt.Errorf("insert %s record %s: %w", element, rec.DataID(), err)
			}
			if spatial {
				if n, err := res.RowsAffected(); err != nil || n > 0 {
					written = append(written, rec)
				}
			}
		}
	}
	if len(written) > 0 {
		if err := r.writeSkypixOverlaps(ctx, c, e, written, mode == InsertReplace); err != nil {
			return err
		}
	}
	if e.Governor {
		for _, rec := range recs {
			if err := r.addSkypixSummaries(ctx, c, e, rec.Values[e.PrimaryKey().Name]); err != nil {
				return err
			}
		}
	}
	return nil
}

// insertNewRecords writes records that must not exist yet in bulk
// (Conn.Insert), then their skypix overlap rows: insertRecords with
// InsertNew, but with overlap rows written without a conflict clause, for
// callers that checked the records are new (define-visits). pixels, when not
// nil, holds each record's common skypix pixels (SkypixEnvelope of its
// region), computed by the caller; else they are computed here. Rows are
// written in primary-key order, so that each B-tree takes them at a few
// places rather than all over. A failure names the element and the record
// that failed.
func (r *Registry) insertNewRecords(ctx context.Context, c sqldb.Conn, element string, recs []dimensions.Record, pixels [][]uint64) error {
	e, ok := r.Universe.Element(element)
	if !ok || !e.HasTable() {
		return fmt.Errorf("insert %s records: %w: no such stored dimension element", element, errs.ErrInvalid)
	}
	if pixels != nil && len(pixels) != len(recs) {
		return fmt.Errorf("insert %s records: %w: %d pixel sets for %d records", element, errs.ErrInvalid, len(pixels), len(recs))
	}
	if e.Governor {
		return r.insertRecords(ctx, c, element, recs, InsertNew)
	}
	for _, rec := range recs {
		if err := dimensions.CheckRecord(dimensions.Record{Element: e, Values: rec.Values}); err != nil {
			return err
		}
	}
	recs, pixels = sortByKey(elementTable(e, r.Universe.Version).PrimaryKey, recs, pixels)
	fields, cols := r.recordColumns(e)
	if err := r.bulkRecords(ctx, c, e, fields, cols, recs, sqldb.FailOnConflict); err != nil {
		return err
	}
	if e.Spatial != "" && r.Universe.CommonSkyPix != nil && len(recs) > 0 {
		return r.insertFreshOverlaps(ctx, c, e, recs, pixels)
	}
	return nil
}

// sortByKey returns recs (and their pixels) sorted by the values of the key
// fields, leaving the caller's slices as they were.
func sortByKey(key []string, recs []dimensions.Record, pixels [][]uint64) ([]dimensions.Record, [][]uint64) {
	less := func(a, b dimensions.Record) int {
		for _, k := range key {
			if c := compareKey(a.Values[k], b.Values[k]); c != 0 {
				return c
			}
		}
		return 0
	}
	if slices.IsSortedFunc(recs, less) {
		return recs, pixels
	}
	order := make([]int, len(recs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return less(recs[i], recs[j]) })
	sorted := make([]dimensions.Record, len(recs))
	var px [][]uint64
	if pixels != nil {
		px = make([][]uint64, len(recs))
	}
	for i, o := range order {
		sorted[i] = recs[o]
		if pixels != nil {
			px[i] = pixels[o]
		}
	}
	return sorted, px
}

// compareKey orders key values: integers by value, strings by bytes, and
// anything else as equal (left in the caller's order).
func compareKey(a, b any) int {
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y)
		}
	case int64, int, int32:
		if y, ok := keyInt(b); ok {
			xi, _ := keyInt(x)
			return cmp.Compare(xi, y)
		}
	}
	return 0
}

func keyInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	}
	return 0, false
}

// SkypixEnvelope returns the function that gives the common skypix (htm7)
// pixels whose rows in <element>_skypix_overlap stand for a region: those of
// its envelope, as daf_butler stores them. It is safe for concurrent use.
func SkypixEnvelope(u *dimensions.Universe) (func(sphgeom.Region) []uint64, error) {
	if u.CommonSkyPix == nil {
		return nil, fmt.Errorf("skypix envelope: %w: universe %d has no common skypix dimension", errs.ErrUnsupported, u.Version)
	}
	htm, err := sphgeom.NewHtm(u.CommonSkyPix.SkyPixLevel)
	if err != nil {
		return nil, err
	}
	return func(region sphgeom.Region) []uint64 {
		var out []uint64
		for idx := range htm.Envelope(region, 0).All() {
			out = append(out, idx)
		}
		return out
	}, nil
}

// insertFreshOverlaps writes the skypix overlap rows of records just
// inserted (so none of their rows can exist) with Conn.Insert: COPY on
// PostgreSQL. recs are in primary-key order, so the rows are too.
func (r *Registry) insertFreshOverlaps(ctx context.Context, c sqldb.Conn, e *dimensions.Element, recs []dimensions.Record, pixels [][]uint64) error {
	sp := r.Universe.CommonSkyPix
	var envelope func(sphgeom.Region) []uint64
	if pixels == nil {
		var err error
		if envelope, err = SkypixEnvelope(r.Universe); err != nil {
			return err
		}
	}
	dims := e.Dimensions()
	cols := []string{"skypix_system", "skypix_level"}
	for _, d := range dims {
		cols = append(cols, d.Name)
	}
	cols = append(cols, "skypix_index")
	var rows [][]any
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		_, err := c.Insert(ctx, e.Name+"_skypix_overlap", cols, rows, sqldb.FailOnConflict)
		rows = rows[:0]
		if err != nil {
			return fmt.Errorf("write %s skypix overlaps: %w", e.Name, err)
		}
		return nil
	}
	for i, rec := range recs {
		var px []uint64
		if pixels != nil {
			px = pixels[i]
		} else {
			var err error
			if px, err = recordPixels(e, rec, envelope); err != nil {
				return err
			}
		}
		for _, idx := range px {
			row := make([]any, 0, len(cols))
			row = append(row, sp.SkyPixSystem, int64(sp.SkyPixLevel))
			for _, d := range dims {
				if d == e {
					row = append(row, rec.Values[e.PrimaryKey().Name])
				} else {
					row = append(row, rec.Values[d.Name])
				}
			}
			rows = append(rows, append(row, int64(idx)))
		}
		if len(rows) >= bulkRows {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// bulkRecords writes records of e with Conn.Insert, naming the record that
// failed when the database says which.
func (r *Registry) bulkRecords(ctx context.Context, c sqldb.Conn, e *dimensions.Element, fields, cols []string, recs []dimensions.Record, on sqldb.OnConflict) error {
	for start := 0; start < len(recs); start += bulkRows {
		chunk := recs[start:min(start+bulkRows, len(recs))]
		rows := make([][]any, len(chunk))
		for i, rec := range chunk {
			a, err := r.recordArgs(e, fields, rec)
			if err != nil {
				return err
			}
			rows[i] = a
		}
		if _, err := c.Insert(ctx, e.Name, cols, rows, on); err != nil {
			if i := sqldb.FailedRow(err); i >= 0 && i < len(chunk) {
				return fmt.Errorf("insert %s record %s: %w", e.Name, chunk[i].DataID(), err)
			}
			return fmt.Errorf("insert %d %s records (from %s): %w", len(chunk), e.Name, chunk[0].DataID(), err)
		}
	}
	return nil
}

// writeSkypixOverlaps stores, for records with a region, the common skypix
// (htm7) pixels of the region's envelope in <element>_skypix_overlap, one row
// per pixel, as daf_butler does; spatial queries join on them and then test the
// regions exactly. With replace, a record's old rows are removed first.
func (r *Registry) writeSkypixOverlaps(ctx context.Context, c sqldb.Conn, e *dimensions.Element, recs []dimensions.Record, replace bool) error {
	sp := r.Universe.CommonSkyPix
	envelope, err := SkypixEnvelope(r.Universe)
	if err != nil {
		return err
	}
	table := r.db.T(e.Name + "_skypix_overlap")
	dims := e.Dimensions()
	keyCols := make([]string, len(dims))
	for i, d := range dims {
		keyCols[i] = r.db.Q(d.Name)
	}
	cols := "skypix_system, skypix_level, " + strings.Join(keyCols, ", ") + ", skypix_index"
	const onConflict = " ON CONFLICT DO NOTHING"
	var rows []string
	var args []any
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		_, err := c.Exec(ctx, "INSERT INTO "+table+" ("+cols+") VALUES "+strings.Join(rows, ", ")+onConflict, args...)
		rows, args = rows[:0], args[:0]
		if err != nil {
			return fmt.Errorf("write %s skypix overlaps: %w", e.Name, err)
		}
		return nil
	}
	ph := "(" + sqldb.Placeholders(3+len(dims)) + ")"
	for _, rec := range recs {
		keys := make([]any, len(dims))
		for i, d := range dims {
			if d == e {
				keys[i] = rec.Values[e.PrimaryKey().Name]
			} else {
				keys[i] = rec.Values[d.Name]
			}
		}
		if replace {
			conds := make([]string, len(dims))
			for i := range dims {
				conds[i] = keyCols[i] + " = ?"
			}
			if _, err := c.Exec(ctx, "DELETE FROM "+table+" WHERE skypix_system = ? AND skypix_level = ? AND "+strings.Join(conds, " AND "),
				append([]any{sp.SkyPixSystem, sp.SkyPixLevel}, keys...)...); err != nil {
				return fmt.Errorf("replace %s skypix overlaps: %w", e.Name, err)
			}
		}
		px, err := recordPixels(e, rec, envelope)
		if err != nil {
			return err
		}
		for _, idx := range px {
			rows = append(rows, ph)
			args = append(args, sp.SkyPixSystem, sp.SkyPixLevel)
			args = append(args, keys...)
			args = append(args, int64(idx))
			if len(rows) >= batchRows/4 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// addSkypixSummaries records that the common skypix system may index the spatial
// elements governed by a new governor value.
func (r *Registry) addSkypixSummaries(ctx context.Context, c sqldb.Conn, gov *dimensions.Element, value any) error {
	if r.Universe.CommonSkyPix == nil {
		return nil
	}
	sp := r.Universe.CommonSkyPix
	for _, e := range r.Universe.Elements {
		if e.Spatial == "" || !e.HasTable() || e.GovernorOf() != gov {
			continue
		}
		if _, err := c.Exec(ctx, "INSERT INTO "+r.db.T(e.Name+"_skypix_overlap_summary")+" (skypix_system, skypix_level, "+r.db.Q(gov.Name)+") VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
			sp.SkyPixSystem, sp.SkyPixLevel, value); err != nil {
			return fmt.Errorf("record skypix summary of %s: %w", e.Name, err)
		}
	}
	return nil
}

// syncRecord inserts a record unless an identical one exists. A different existing
// record is a conflict unless update, which overwrites it. It reports whether it wrote.
func (r *Registry) syncRecord(ctx context.Context, c sqldb.Conn, element string, rec dimensions.Record, update bool) (bool, error) {
	e, ok := r.Universe.Element(element)
	if !ok || !e.HasTable() {
		return false, fmt.Errorf("sync %s record: %w: no such stored dimension element", element, errs.ErrInvalid)
	}
	old, found, err := r.fetchRecord(ctx, c, e, rec.DataID())
	if err != nil {
		return false, err
	}
	if !found {
		return true, r.insertRecords(ctx, c, element, []dimensions.Record{rec}, InsertNew)
	}
	if diff := recordDiff(old, rec); diff != "" {
		if !update {
			return false, fmt.Errorf("%s record %s: %w: differs from the stored one (%s)", element, rec.DataID(), errs.ErrConflict, diff)
		}
		return true, r.insertRecords(ctx, c, element, []dimensions.Record{rec}, InsertReplace)
	}
	return false, nil
}

func recordDiff(old, rec dimensions.Record) string {
	var diffs []string
	for k, v := range rec.Values {
		ov := old.Values[k]
		if fmt.Sprint(normalizeValue(ov)) != fmt.Sprint(normalizeValue(v)) {
			diffs = append(diffs, fmt.Sprintf("%s: stored %v, new %v", k, ov, v))
		}
	}
	return strings.Join(diffs, "; ")
}

func normalizeValue(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case *string:
		if x == nil {
			return nil
		}
		return *x
	case []byte:
		return string(x)
	}
	return v
}

// Record fetches the record of element with the given data ID.
func (r *Registry) Record(ctx context.Context, element string, id dimensions.DataID) (dimensions.Record, bool, error) {
	e, ok := r.Universe.Element(element)
	if !ok {
		return dimensions.Record{}, false, fmt.Errorf("dimension element %q: %w", element, errs.ErrNotFound)
	}
	return r.fetchRecord(ctx, r.db.Conn(), e, id)
}

func (r *Registry) fetchRecord(ctx context.Context, c sqldb.Conn, e *dimensions.Element, id dimensions.DataID) (dimensions.Record, bool, error) {
	var where []string
	var args []any
	for _, d := range e.Required {
		where = append(where, r.db.Q(d.Name)+" = ?")
		args = append(args, id[d.Name])
	}
	if e.IsDimension() {
		where = append(where, r.db.Q(e.PrimaryKey().Name)+" = ?")
		args = append(args, id[e.Name])
	}
	recs, err := r.records(ctx, c, e.Name, strings.Join(where, " AND "), args...)
	if err != nil || len(recs) == 0 {
		return dimensions.Record{}, false, err
	}
	return recs[0], true, nil
}

// records reads records of an element filtered by an optional SQL condition on its
// columns (placeholders '?'), in primary-key order.
func (r *Registry) records(ctx context.Context, c sqldb.Conn, element, where string, args ...any) ([]dimensions.Record, error) {
	var out []dimensions.Record
	err := r.eachRecord(ctx, c, element, where, args, func(rec dimensions.Record) error {
		out = append(out, rec)
		return nil
	})
	return out, err
}

// eachRecord streams the records of an element to fn.
func (r *Registry) eachRecord(ctx context.Context, c sqldb.Conn, element, where string, args []any, fn func(dimensions.Record) error) error {
	return r.eachRecordOrdered(ctx, c, element, where, args, nil, fn)
}

// eachRecordOrdered is EachRecord in the given order: terms over the record's
// own columns ({field} placeholders or quoted names), then its primary key.
func (r *Registry) eachRecordOrdered(ctx context.Context, c sqldb.Conn, element, where string, args []any, orderBy []OrderTerm, fn func(dimensions.Record) error) error {
	e, ok := r.Universe.Element(element)
	if !ok || !e.HasTable() {
		return fmt.Errorf("dimension element %q: %w: it has no stored records", element, errs.ErrNotFound)
	}
	fields, cols := r.recordColumns(e)
	quoted := make([]string, len(cols))
	for i, col := range cols {
		quoted[i] = r.db.Q(col)
	}
	t := elementTable(e, r.Universe.Version)
	q := "SELECT " + strings.Join(quoted, ", ") + " FROM " + r.db.T(e.Name)
	if r.db.Dialect.SupportsTimespanRange() {
		// Conditions may name SQLite's bound columns (butler.QueryRecords does);
		// here the bounds come from the one range column.
		where = strings.ReplaceAll(where, r.db.Q("timespan_begin"), r.db.Dialect.TimespanBound("", "timespan", false))
		where = strings.ReplaceAll(where, r.db.Q("timespan_end"), r.db.Dialect.TimespanBound("", "timespan", true))
	}
	if where != "" {
		q += " WHERE " + where
	}
	pk := make([]string, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		pk[i] = r.db.Q(k)
	}
	var order []string
	for _, o := range orderBy {
		e := o.Expr
		if r.db.Dialect.SupportsTimespanRange() {
			e = strings.ReplaceAll(e, r.db.Q("timespan_begin"), r.db.Dialect.TimespanBound("", "timespan", false))
			e = strings.ReplaceAll(e, r.db.Q("timespan_end"), r.db.Dialect.TimespanBound("", "timespan", true))
		}
		order = append(order, e+orderDir(o))
	}
	q += " ORDER BY " + strings.Join(append(order, pk...), ", ")
	rows, err := c.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read %s records: %w", element, err)
	}
	defer rows.Close()
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		rec := dimensions.Record{Element: e, Values: map[string]any{}}
		i := 0
		for _, f := range fields {
			col, _ := t.Column(f)
			if col.Type == sqldb.Timespan {
				n := 1
				if !r.db.Dialect.SupportsTimespanRange() {
					n = 2
				}
				b, e2, valid, err := r.db.Dialect.ScanTimespan(vals[i : i+n])
				if err != nil {
					return fmt.Errorf("read %s records: %w", element, err)
				}
				i += n
				rec.Values[f] = nil
				if valid {
					rec.Values[f] = timespan.Timespan{Begin: b, End: e2}
				}
				continue
			}
			rec.Values[f] = scanValue(col, vals[i])
			if sv, ok := rec.Values[f].(string); ok && binaryField(e, f) {
				if b, err := base64.StdEncoding.DecodeString(sv); err == nil {
					rec.Values[f] = b
				}
			}
			i++
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return rows.Err()
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	case []byte:
		var n int64
		fmt.Sscan(string(x), &n)
		return n
	case string:
		var n int64
		fmt.Sscan(x, &n)
		return n
	}
	return 0
}

func scanValue(col sqldb.Column, v any) any {
	if v == nil {
		return nil
	}
	switch col.Type {
	case sqldb.Int64, sqldb.Int16:
		return toInt(v)
	case sqldb.Float:
		switch x := v.(type) {
		case float64:
			return x
		case int64:
			return float64(x)
		}
	case sqldb.Bool:
		switch x := v.(type) {
		case bool:
			return x
		case int64:
			return x != 0
		}
	case sqldb.String:
		switch x := v.(type) {
		case []byte:
			return string(x)
		}
	}
	return v
}

// Expand fills the implied dimensions of a data ID from the stored records and
// returns the records of every element of the group it could find (keyed by name).
func (r *Registry) Expand(ctx context.Context, g dimensions.Group, id dimensions.DataID) (dimensions.DataID, map[string]dimensions.Record, error) {
	return r.expandIn(ctx, r.db.Conn(), g, id)
}

// expandIn is Expand on a given connection, so that a transaction sees the
// records it has just written.
func (r *Registry) expandIn(ctx context.Context, c sqldb.Conn, g dimensions.Group, id dimensions.DataID) (dimensions.DataID, map[string]dimensions.Record, error) {
	return r.expandCached(ctx, c, g, id, nil)
}

// RecordCache remembers records read by ExpandCached (keyed by element and
// data ID), so that expanding many data IDs reads each record once.
type RecordCache map[string]*dimensions.Record

// expandCached is ExpandIn reading records through cache (nil: no cache).
func (r *Registry) expandCached(ctx context.Context, c sqldb.Conn, g dimensions.Group, id dimensions.DataID, cache RecordCache) (dimensions.DataID, map[string]dimensions.Record, error) {
	fetch := func(e *dimensions.Element, full dimensions.DataID) (dimensions.Record, bool, error) {
		if cache == nil && e.Cached {
			return r.sharedRecord(ctx, c, e, full)
		}
		if cache == nil {
			return r.fetchRecord(ctx, c, e, full)
		}
		var sb strings.Builder
		sb.WriteString(e.Name)
		for _, d := range e.Dimensions() {
			fmt.Fprintf(&sb, "\x00%v", full[d.Name])
		}
		k := sb.String()
		if rec, ok := cache[k]; ok {
			if rec == nil {
				return dimensions.Record{}, false, nil
			}
			return *rec, true, nil
		}
		rec, ok, err := r.fetchRecord(ctx, c, e, full)
		if err != nil {
			return rec, ok, err
		}
		if ok {
			cache[k] = &rec
		} else {
			cache[k] = nil
		}
		return rec, ok, nil
	}
	full := id.Clone()
	recs := map[string]dimensions.Record{}
	// Required dimensions first (their records give implied values), then implied.
	for _, e := range append(append([]*dimensions.Element(nil), g.Required...), g.Implied...) {
		if !e.HasTable() {
			continue
		}
		if _, ok := full[e.Name]; !ok {
			continue
		}
		rec, ok, err := fetch(e, full)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			return nil, nil, fmt.Errorf("data ID %s: %w: no %s record with %s=%v", id, errs.ErrNotFound, e.Name, e.Name, full[e.Name])
		}
		recs[e.Name] = rec
		for _, imp := range e.Implied {
			if v := rec.Values[imp.Name]; v != nil {
				full[imp.Name] = v
			}
		}
	}
	for _, e := range g.Implied {
		if _, ok := full[e.Name]; ok && e.HasTable() {
			if _, done := recs[e.Name]; !done {
				rec, ok, err := fetch(e, full)
				if err != nil {
					return nil, nil, err
				}
				if ok {
					recs[e.Name] = rec
					for _, imp := range e.Implied {
						if v := rec.Values[imp.Name]; v != nil {
							full[imp.Name] = v
						}
					}
				}
			}
		}
	}
	return full, recs, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// RecordState says how a record compares with the stored one of the same data ID.
type RecordState struct {
	// Exists is true when a record with the data ID is stored.
	Exists bool
	// Changed names the fields whose stored values differ (sorted); Diff
	// describes them ("field: stored X, new Y; ..."). Both empty when the
	// stored record is the same.
	Changed []string
	Diff    string
}

// compareRecords reads the stored records the given ones could collide with
// (one query restricted by each key column to the values the records hold, so
// the cost follows the batch, not the size of the table) and compares them.
func (r *Registry) compareRecords(ctx context.Context, c sqldb.Conn, element string, recs []dimensions.Record) ([]RecordState, error) {
	out := make([]RecordState, len(recs))
	if len(recs) == 0 {
		return out, nil
	}
	e, ok := r.Universe.Element(element)
	if !ok || !e.HasTable() {
		return nil, fmt.Errorf("compare %s records: %w: no such stored dimension element", element, errs.ErrInvalid)
	}
	var where []string
	var args []any
	for _, d := range e.Dimensions() {
		col := d.Name
		if d == e {
			col = e.PrimaryKey().Name
		}
		vals := map[any]bool{}
		var ph []string
		for _, rec := range recs {
			v := normalizeValue(rec.Values[col])
			if !vals[v] {
				vals[v] = true
				ph = append(ph, "?")
				args = append(args, v)
			}
		}
		where = append(where, r.db.Q(col)+" IN ("+strings.Join(ph, ", ")+")")
	}
	existing := map[string]dimensions.Record{}
	err := r.eachRecord(ctx, c, element, strings.Join(where, " AND "), args, func(rec dimensions.Record) error {
		existing[rec.DataID().String()] = rec
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, rec := range recs {
		old, ok := existing[rec.DataID().String()]
		if !ok {
			continue
		}
		out[i].Exists = true
		for k, v := range rec.Values {
			if fmt.Sprint(normalizeValue(old.Values[k])) != fmt.Sprint(normalizeValue(v)) {
				out[i].Changed = append(out[i].Changed, k)
			}
		}
		if len(out[i].Changed) > 0 {
			slices.Sort(out[i].Changed)
			out[i].Diff = recordDiff(old, rec)
		}
	}
	return out, nil
}

// syncRecords syncs many records of one element at once: missing ones are
// inserted in bulk, existing ones compared (a difference is a conflict unless
// update, which overwrites). It returns how many records it wrote.
func (r *Registry) syncRecords(ctx context.Context, c sqldb.Conn, element string, recs []dimensions.Record, update bool) (int, error) {
	states, err := r.compareRecords(ctx, c, element, recs)
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	var fresh, changed []dimensions.Record
	for i, rec := range recs {
		switch st := states[i]; {
		case !st.Exists:
			fresh = append(fresh, rec)
		case st.Diff != "":
			if !update {
				return 0, fmt.Errorf("%s record %s: %w: differs from the stored one (%s)", element, rec.DataID(), errs.ErrConflict, st.Diff)
			}
			changed = append(changed, rec)
		}
	}
	if err := r.insertRecords(ctx, c, element, fresh, InsertNew); err != nil {
		return 0, err
	}
	if err := r.insertRecords(ctx, c, element, changed, InsertReplace); err != nil {
		return 0, err
	}
	return len(fresh) + len(changed), nil
}

// recordPixels is the envelope of a record's region in the common skypix
// system: none for a record without a region.
func recordPixels(e *dimensions.Element, rec dimensions.Record, envelope func(sphgeom.Region) []uint64) ([]uint64, error) {
	b, ok := rec.Values["region"].([]byte)
	if !ok || len(b) == 0 {
		return nil, nil
	}
	region, err := sphgeom.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s record %s: region: %w: %w", e.Name, rec.DataID(), errs.ErrInvalid, err)
	}
	return envelope(region), nil
}
