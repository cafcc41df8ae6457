// Dataset queries: collection resolution, the SQL of a dataset search
// (find-first, calibration lookups, where/order expansion, region filters),
// lookups by ID, and collection pruning by summaries and governor values.

package registry

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry/sqldb"
	"github.com/gobutler/butler/sphgeom"
	"github.com/gobutler/butler/timespan"
	"github.com/google/uuid"
)

var fieldToken = regexp.MustCompile(`\{([a-z_0-9]+)\.([a-z_0-9]+)\}`)

// DatasetQuery selects datasets of one type.
type DatasetQuery struct {
	Type        string
	Collections []string // ordered; globs allowed when !FindFirst
	FindFirst   bool
	// DataID restricts required (or implied, via joins) dimension values by equality.
	DataID dimensions.DataID
	// DataIDs, when set, restricts required dimension values to one of
	// these tuples (all with the same keys, none of them in DataID): the
	// finds of many data IDs in one query (FindDatasets).
	DataIDs []dimensions.DataID
	// Where is an extra SQL condition over the selected columns, using the aliases
	// that Columns reports; set by the query planner. Args are its bind values.
	Where string
	Args  []any
	// IDs restricts to these dataset IDs.
	IDs   []dataset.ID
	Limit int // 0: no limit
	// WithImplied joins dimension tables to fill implied dimensions.
	WithImplied bool
	// OrderBy replaces the default order (data ID, then collection rank).
	OrderBy []OrderTerm
	// Governors are governor values the query requires (instrument=LSSTCam):
	// collections whose summaries lack them are not searched.
	Governors map[string]any
	// CalibTime, when set, keeps only certifications in CALIBRATION collections
	// whose validity range overlaps it; without it a find-first search that
	// finds several validity ranges for one data ID is a CalibrationLookupError.
	CalibTime *timespan.Timespan
	// Refine drops rows whose element region does not overlap the filter's.
	Refine []RegionFilter
	// Extra relates the datasets to dimensions their type does not have (the
	// where expression names visit for raws, or tract for calexps): a dataset
	// is kept when some data ID of Extra.Group matching Extra.Where agrees
	// with it on the dimensions they share. Where is then given here, not in
	// the Where field above.
	Extra *ExtraDimensions

	// noJoins: the data ID holds required dimensions only and Datasets
	// fills the implied ones itself; the SQL joins no dimension table.
	noJoins bool
}

// ExtraDimensions is a dimension group wider than a dataset type's, with a
// translated where expression over it.
type ExtraDimensions struct {
	Group dimensions.Group
	Where string
	Args  []any
	// Refine are the exact region tests of the where on elements of Group
	// the dataset type lacks (visit_detector_region.region OVERLAPS ... for
	// raws): the datasets kept are those of the data IDs that pass them.
	Refine []RegionFilter

	from    string
	colExpr map[string]string
}

// OrderTerm is one ORDER BY term: an expression with the placeholders of a
// translated where expression ({visit}, {visit.timespan_begin}).
type OrderTerm struct {
	Expr string
	Desc bool
}

// orderClause expands order terms into SQL, joining the tables they name.
func (r *Registry) orderClause(terms []OrderTerm, colExpr map[string]string, from string) ([]string, string) {
	out := make([]string, len(terms))
	for i, t := range terms {
		var e string
		e, from = r.expandWhere(t.Expr, colExpr, from)
		e = strings.ReplaceAll(e, "{dataset_id}", "t.dataset_id")
		e = strings.ReplaceAll(e, "{ingest_date}", "d.ingest_date")
		e = strings.ReplaceAll(e, "{run}", "rc.name")
		e = strings.ReplaceAll(e, "{collection}", "tc.name")
		out[i] = e
	}
	return out, from
}

// mentions reports whether the query's where, extra where or order names placeholder.
func mentions(q DatasetQuery, placeholder string) bool {
	return strings.Contains(q.Where, placeholder) || orderUses(q.OrderBy, placeholder) ||
		(q.Extra != nil && strings.Contains(q.Extra.Where, placeholder))
}

func orderUses(terms []OrderTerm, placeholder string) bool {
	for _, t := range terms {
		if strings.Contains(t.Expr, placeholder) {
			return true
		}
	}
	return false
}

func orderDir(t OrderTerm) string {
	if t.Desc {
		return " DESC"
	}
	return ""
}

// ResolveCollections expands globs and chains into the ordered list of collection
// records searched. Globs are refused for ordered (find-first) searches.
func (r *Registry) ResolveCollections(ctx context.Context, names []string, ordered bool) ([]*Collection, error) {
	var expanded []string
	for _, n := range names {
		if IsGlob(n) {
			if ordered {
				return nil, fmt.Errorf("collection %q: %w: glob patterns are not allowed in an ordered (find-first) search", n, errs.ErrInvalid)
			}
			cs, err := r.MatchCollections(ctx, []string{n})
			if err != nil {
				return nil, err
			}
			for _, c := range cs {
				expanded = append(expanded, c.Name)
			}
			continue
		}
		expanded = append(expanded, n)
	}
	return r.flattenRecords(ctx, r.db.Conn(), expanded, nil)
}

// Datasets streams the datasets matching q to fn, ordered by data ID.
func (r *Registry) Datasets(ctx context.Context, q DatasetQuery, fn func(dataset.Ref) error) error {
	st, err := r.storedType(ctx, r.db.Conn(), q.Type)
	if err != nil {
		return err
	}
	searchable, err := r.searchable(ctx, st, q)
	if err != nil {
		return err
	}
	if len(searchable) == 0 {
		return nil
	}
	// A listing of everything in the collections: possibly millions of rows.
	bulk := q.Limit == 0 && q.Where == "" && len(q.DataID) == 0 && len(q.DataIDs) == 0 && len(q.IDs) == 0 && len(q.Refine) == 0
	governed, err := r.summaryGovernors(ctx, st, searchable, q)
	if err != nil {
		return err
	}
	if !bulk {
		// A listing reads everything anyway, and a data ID term would make
		// datasetSQL join the dimension tables.
		q.DataID = governed
	}
	// A listing fills implied dimensions (physical_filter, band, day_obs...)
	// from the few rows of their elements' tables, read first, instead of
	// joining them to every dataset row.
	var fill *impliedFill
	sqlQ := q
	if bulk && q.WithImplied && len(q.OrderBy) == 0 && !hasCalibration(searchable) {
		if fill, err = r.loadImplied(ctx, st, governed, impliedRowsMax); err != nil {
			return err
		}
		sqlQ.WithImplied = fill == nil
	}
	// A server's single searches (a find, the datasets of one exposure)
	// fill them from the rows it keeps for the search cache's TTL, so their
	// SQL reads the tags table alone.
	var fetch func(*impliedStep, dimensions.DataID) ([]any, error)
	if !bulk && fill == nil {
		if fill, err = r.searchFill(ctx, st, searchable, q); err != nil {
			return err
		}
		if fill != nil {
			sqlQ.noJoins = true
			fetch = r.fetchImplied(ctx)
		}
	}
	var allowed map[string]bool // data IDs passing the exact spatial test, when one is needed
	if sqlQ.Extra != nil {
		// The wider group's records are joined in a correlated subquery, where
		// spatial families meet through their skypix overlap rows only; the
		// exact region test runs on the wider data IDs (DataIDs refines them)
		// and keeps the datasets whose data IDs are among them.
		x := *sqlQ.Extra
		var pairs [][2]string
		if x.from, x.colExpr, pairs, err = r.dimensionJoin(x.Group, "x_"); err != nil {
			return err
		}
		sqlQ.Extra = &x
		if (len(pairs) > 0 || len(x.Refine) > 0) && !strings.Contains(x.Where, "{run") && !strings.Contains(x.Where, "{ingest_date}") &&
			!strings.Contains(x.Where, "{collection}") && !strings.Contains(x.Where, "{dataset_id}") {
			allowed = map[string]bool{}
			req := st.Dimensions.RequiredNames()
			err := r.DataIDs(ctx, DataIDQuery{Group: x.Group, Where: x.Where, Args: x.Args, Refine: x.Refine}, func(id dimensions.DataID) error {
				allowed[requiredKey(req, func(d string) any { return id[d] })] = true
				return nil
			})
			if err != nil {
				return err
			}
			sqlQ.Limit = 0 // applied after the test
		}
	}
	sqlText, args, cols := r.datasetSQLShaped(st, searchable, sqlQ)
	ambiguity := 0
	if q.FindFirst && len(searchable) > 1 && hasCalibration(searchable) {
		ambiguity = 1 // datasetSQL selects the winners' count per data ID last
	}
	runNames := make(map[int64]string, len(searchable))
	for _, c := range searchable {
		runNames[c.ID] = c.Name
	}
	returned := 0
	conn := r.db.Conn()
	if bulk {
		c, release, err := r.db.BulkReader(ctx)
		if err != nil {
			return fmt.Errorf("query %s datasets: %w", q.Type, err)
		}
		defer release()
		conn = c
	}
	rows, err := conn.Query(ctx, sqlText, args...)
	if err != nil {
		return fmt.Errorf("query %s datasets: %w", q.Type, err)
	}
	defer rows.Close()
	// One scan buffer for all rows, and what each column needs worked out
	// once: a listing of millions of rows pays for every per-row allocation
	// and universe lookup.
	vals := make([]any, len(cols)+2+len(q.OrderBy)+len(q.Refine)+ambiguity)
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	intCol := make([]bool, len(cols))
	for i, d := range cols {
		intCol[i] = r.Universe.MustElement(d).PrimaryKey().Type == "int"
	}
	var lastRun string // rows come run after run: keep one copy of the name
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if ambiguity > 0 {
			if n := toInt(vals[len(vals)-1]); n > 1 {
				id := dimensions.DataID{}
				for i, d := range cols {
					id[d] = vals[i+2]
				}
				return &dataset.CalibrationLookupError{Type: q.Type, Collection: "(the first collection with one)", DataID: id, N: int(n)}
			}
		}
		if allowed != nil {
			k := requiredKey(cols[:len(st.Dimensions.Required)], func(d string) any {
				for i, c := range cols {
					if c == d {
						if b, ok := vals[i+2].([]byte); ok {
							return string(b)
						}
						if intCol[i] {
							return toInt(vals[i+2])
						}
						return vals[i+2]
					}
				}
				return nil
			})
			if !allowed[k] {
				continue
			}
		}
		if len(q.Refine) > 0 || allowed != nil {
			if len(q.Refine) > 0 {
				ok, err := regionsOverlap(q.Refine, vals[len(vals)-len(q.Refine)-ambiguity:len(vals)-ambiguity])
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
			}
			if q.Limit > 0 && returned >= q.Limit {
				return nil
			}
			returned++
		}
		id, err := parseUUID(vals[0])
		if err != nil {
			return err
		}
		var run string
		switch v := vals[1].(type) {
		case string:
			run = v
		case int64: // the run's collection ID (RUN-only searches)
			run = runNames[v]
		default:
			run = scanValue(sqldb.Column{Type: sqldb.String}, vals[1]).(string)
		}
		if run == lastRun {
			run = lastRun
		}
		lastRun = run
		ref := dataset.Ref{ID: id, Type: st.Type, Run: run, DataID: make(dimensions.DataID, len(cols))}
		ref.Type.Name = q.Type
		for i, d := range cols {
			v := vals[i+2]
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			if v == nil {
				continue
			}
			if intCol[i] {
				if _, ok := v.(int64); !ok {
					v = toInt(v)
				}
			}
			ref.DataID[d] = v
		}
		if err := fill.fill(ref.DataID, fetch); err != nil {
			return fmt.Errorf("query %s datasets: %w", q.Type, err)
		}
		if err := fn(ref); err != nil {
			return err
		}
	}
	return rows.Err()
}

// datasetSQL builds the query: the dataset type's tags table restricted to the
// collections, joined to dimension tables for implied values, with find-first
// done by a window function over the collection rank (never one OR per data ID).
func (r *Registry) datasetSQL(st *storedType, colls []*Collection, q DatasetQuery) (string, []any, []string) {
	dims := st.Dimensions.RequiredNames()
	var args []any
	sel := []string{"t.dataset_id", "rc.name"}
	cols := append([]string(nil), dims...)
	colExpr := map[string]string{}
	for _, d := range dims {
		colExpr[d] = "t." + r.db.Q(d)
		sel = append(sel, colExpr[d])
	}
	// The run's name comes from a join: looking it up per row on another pooled
	// connection would deadlock against a writer committing meanwhile (SQLite's
	// PENDING lock blocks the new read while the open one blocks the writer).
	source := r.db.T(st.tagTable)
	if hasCalibration(colls) {
		// Certifications join the tag rows as one source; a dataset certified
		// over several ranges of a collection appears once per range.
		src, srcArgs := r.calibSource(st, colls, q.CalibTime)
		source = "(" + src + ")"
		args = append(args, srcArgs...)
	}
	from := source + " t JOIN " + r.db.T("dataset") + " d ON d.id = t.dataset_id JOIN " + r.db.T("collection") + " rc ON rc.collection_id = d.run_id"
	allRuns := !hasCalibration(colls)
	for _, c := range colls {
		allRuns = allRuns && c.Type == dataset.Run
	}
	usesDataset := strings.Contains(q.Where, "{ingest_date}") || strings.Contains(q.Where, "{run_id}") ||
		(q.Extra != nil && strings.Contains(q.Extra.Where, "{ingest_date}"))
	for _, o := range q.OrderBy {
		usesDataset = usesDataset || strings.Contains(o.Expr, "{ingest_date}")
	}
	if allRuns && !usesDataset {
		// In a RUN the tag row's collection is the dataset's run: no need to
		// look every dataset up (4x faster for large listings), nor its name:
		// Datasets maps the collection ID to the run's name itself.
		from = source + " t"
		sel[1] = "t.collection_id"
		if mentions(q, "{run}") {
			from += " JOIN " + r.db.T("collection") + " rc ON rc.collection_id = t.collection_id"
		}
	}
	if strings.Contains(q.Where, "{collection}") || orderUses(q.OrderBy, "{collection}") || (q.Extra != nil && strings.Contains(q.Extra.Where, "{collection}")) {
		// The collection a dataset was found in (a TAGGED one, or its run).
		from += " JOIN " + r.db.T("collection") + " tc ON tc.collection_id = t.collection_id"
	}
	if (q.WithImplied || len(q.DataID) > 0 || len(q.DataIDs) > 0 || q.Where != "") && !q.noJoins {
		// Join each element whose key values are known, until no new implied values appear.
		joined := map[string]bool{}
		for progress := true; progress; {
			progress = false
			for _, e := range append(append([]*dimensions.Element(nil), st.Dimensions.Required...), st.Dimensions.Implied...) {
				if joined[e.Name] || !e.HasTable() || len(e.Implied) == 0 || colExpr[e.Name] == "" {
					continue
				}
				ready := true
				for _, rq := range e.Required {
					if colExpr[rq.Name] == "" {
						ready = false
					}
				}
				if !ready {
					continue
				}
				alias := "j_" + e.Name
				var on []string
				for _, rq := range e.Required {
					on = append(on, alias+"."+r.db.Q(rq.Name)+" = "+colExpr[rq.Name])
				}
				on = append(on, alias+"."+r.db.Q(e.PrimaryKey().Name)+" = "+colExpr[e.Name])
				from += " LEFT JOIN " + r.db.T(e.Name) + " " + alias + " ON " + strings.Join(on, " AND ")
				joined[e.Name] = true
				for _, imp := range e.Implied {
					if colExpr[imp.Name] == "" {
						colExpr[imp.Name] = alias + "." + r.db.Q(imp.Name)
						cols = append(cols, imp.Name)
						sel = append(sel, colExpr[imp.Name])
						progress = true
					}
				}
			}
		}
	}
	var where []string
	collIDs := make([]string, len(colls))
	rank := "CASE t.collection_id"
	for i, c := range colls {
		collIDs[i] = fmt.Sprint(c.ID)
		rank += fmt.Sprintf(" WHEN %d THEN %d", c.ID, i)
	}
	rank += " END"
	where = append(where, "t.dataset_type_id = ?", "t.collection_id IN ("+strings.Join(collIDs, ", ")+")")
	args = append(args, st.id)
	keys := make([]string, 0, len(q.DataID))
	for k := range q.DataID {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if e, ok := colExpr[k]; ok {
			where = append(where, e+" = ?")
			args = append(args, q.DataID[k])
		} else {
			where = append(where, "1 = 0") // a dimension the type cannot have
		}
	}
	if len(q.DataIDs) > 0 {
		where = append(where, dataIDsIn(q.DataIDs, colExpr, &args))
	}
	if len(q.IDs) > 0 {
		ph := make([]string, len(q.IDs))
		for i, id := range q.IDs {
			ph[i] = "?"
			args = append(args, r.uuid(id))
		}
		where = append(where, "t.dataset_id IN ("+strings.Join(ph, ", ")+")")
	}
	if q.Where != "" {
		var expanded string
		expanded, from = r.expandWhere(q.Where, colExpr, from)
		expanded = strings.ReplaceAll(expanded, "{dataset_id}", "t.dataset_id")
		expanded = strings.ReplaceAll(expanded, "{ingest_date}", "d.ingest_date")
		expanded = strings.ReplaceAll(expanded, "{run_id}", "d.run_id")
		expanded = strings.ReplaceAll(expanded, "{run}", "rc.name")
		expanded = strings.ReplaceAll(expanded, "{collection}", "tc.name")
		where = append(where, "("+expanded+")")
		args = append(args, q.Args...)
	}
	if x := q.Extra; x != nil {
		sub := x.from
		var conds []string
		for _, d := range dims {
			if c, ok := x.colExpr[d]; ok {
				conds = append(conds, c+" = "+colExpr[d])
			}
		}
		if x.Where != "" {
			var expanded string
			expanded, sub = r.expandWhere(x.Where, x.colExpr, sub)
			expanded = strings.ReplaceAll(expanded, "{dataset_id}", "t.dataset_id")
			expanded = strings.ReplaceAll(expanded, "{ingest_date}", "d.ingest_date")
			expanded = strings.ReplaceAll(expanded, "{run}", "rc.name")
			expanded = strings.ReplaceAll(expanded, "{collection}", "tc.name")
			conds = append(conds, "("+expanded+")")
		}
		where = append(where, "EXISTS (SELECT 1 FROM "+sub+whereClause(conds)+")")
		args = append(args, x.Args...)
	}
	order := make([]string, len(dims))
	for i, d := range dims {
		order[i] = colExpr[d]
	}
	// A dimensionless type (packages, *_config) has one data ID, {}: there is
	// nothing to partition or order by but the dataset itself.
	idOrder := []string(nil)
	if len(dims) == 0 {
		idOrder = []string{"t.dataset_id"}
	}
	// Order expressions are selected too (after the data ID columns), so the
	// find-first wrapper can order by them.
	var orderExprs []string
	orderExprs, from = r.orderClause(q.OrderBy, colExpr, from)
	nsel := len(sel)
	sel = append(sel, orderExprs...)
	var regionCols []string
	regionCols, from = r.regionColumns(q.Refine, colExpr, from)
	sel = append(sel, regionCols...)
	var sqlText string
	// Without find-first, a dataset in several of the collections (its RUN and
	// a TAGGED one, say) is still returned once, as upstream does: the window
	// then partitions by dataset instead of data ID. A dataset is in one RUN
	// only, so a search of RUNs alone needs none of this.
	dedupe := !q.FindFirst && len(colls) > 1 && !allRuns
	if (q.FindFirst || dedupe) && len(colls) > 1 {
		part := make([]string, len(dims))
		outer := make([]string, len(sel))
		for i := range dims {
			part[i] = "x" + fmt.Sprint(i+2)
		}
		byData := part
		if dedupe {
			part = []string{"x0"}
		}
		for i := range sel {
			outer[i] = "x" + fmt.Sprint(i)
		}
		inner := make([]string, len(sel))
		for i, s := range sel {
			inner[i] = s + " AS x" + fmt.Sprint(i)
		}
		body := "SELECT " + strings.Join(inner, ", ") + ", " + rank + " AS coll_rank FROM " + from + " WHERE " + strings.Join(where, " AND ")
		outerOrder := part
		if dedupe {
			outerOrder = append(append([]string(nil), byData...), "coll_rank")
		}
		if len(q.OrderBy) > 0 {
			outerOrder = make([]string, len(q.OrderBy))
			for i, o := range q.OrderBy {
				outerOrder[i] = "x" + fmt.Sprint(nsel+i) + orderDir(o)
			}
		}
		window := ""
		if q.FindFirst && hasCalibration(colls) {
			// How many rows share the winner's data ID and collection: more
			// than one is an ambiguous calibration lookup.
			window = ", COUNT(*) OVER (" + partitionBy(append(append([]string(nil), part...), "coll_rank")) + ") AS nrank"
			outer = append(outer, "nrank")
		}
		sqlText = "SELECT " + strings.Join(outer, ", ") + " FROM (SELECT *, ROW_NUMBER() OVER (" + partitionBy(part) +
			"ORDER BY coll_rank) AS rn" + window + " FROM (" + body + ") s) f WHERE rn = 1" + orderByClause(outerOrder)
	} else {
		orderBy := append([]string(nil), order...)
		if len(colls) > 1 {
			// With one collection the rank is constant; ordering by it anyway
			// made PostgreSQL re-sort a million-row index scan.
			orderBy = append(orderBy, rank)
		}
		orderBy = append(orderBy, idOrder...)
		if len(q.OrderBy) > 0 {
			orderBy = make([]string, len(q.OrderBy))
			for i, o := range q.OrderBy {
				orderBy[i] = orderExprs[i] + orderDir(o)
			}
		}
		distinct := ""
		if hasCalibration(colls) {
			distinct = "DISTINCT " // one row per dataset and collection, not per validity range
			if len(q.OrderBy) == 0 {
				orderBy = append(append([]string(nil), order...), idOrder...) // DISTINCT orders only by selected columns
			}
		}
		sqlText = "SELECT " + distinct + strings.Join(sel, ", ") + " FROM " + from + whereClause(where) + orderByClause(orderBy)
	}
	if q.Limit > 0 && len(q.Refine) == 0 {
		sqlText += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	return sqlText, args, cols
}

// dataIDsIn is the condition that the row's data ID is one of ids (all with
// the keys of the first): (a, b) IN ((?, ?), (?, ?)), or a IN (?, ?) for one
// key. It appends the values to args.
func dataIDsIn(ids []dimensions.DataID, colExpr map[string]string, args *[]any) string {
	keys := make([]string, 0, len(ids[0]))
	for k := range ids[0] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	cols := make([]string, len(keys))
	for i, k := range keys {
		if colExpr[k] == "" {
			return "1 = 0" // a dimension the type cannot have
		}
		cols[i] = colExpr[k]
	}
	tuple := "?"
	lhs := cols[0]
	if len(keys) > 1 {
		tuple = "(" + strings.Repeat("?, ", len(keys)-1) + "?)"
		lhs = "(" + strings.Join(cols, ", ") + ")"
	}
	var sb strings.Builder
	sb.WriteString(lhs + " IN (")
	for i, id := range ids {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(tuple)
		for _, k := range keys {
			*args = append(*args, id[k])
		}
	}
	sb.WriteString(")")
	return sb.String()
}

func hasCalibration(colls []*Collection) bool {
	for _, c := range colls {
		if c.Type == dataset.Calibration {
			return true
		}
	}
	return false
}

// calibSource is the union of a calibration type's tag rows and its
// certifications in the collections (restricted to those valid at calibTime).
func (r *Registry) calibSource(st *storedType, colls []*Collection, at *timespan.Timespan) (string, []any) {
	var tagIDs, calIDs []string
	for _, c := range colls {
		if c.Type == dataset.Calibration {
			calIDs = append(calIDs, fmt.Sprint(c.ID))
		} else {
			tagIDs = append(tagIDs, fmt.Sprint(c.ID))
		}
	}
	list := r.tagColumns(st)
	var parts []string
	var args []any
	if len(tagIDs) > 0 {
		parts = append(parts, "SELECT "+list+" FROM "+r.db.T(st.tagTable)+" WHERE dataset_type_id = ? AND collection_id IN ("+strings.Join(tagIDs, ", ")+")")
		args = append(args, st.id)
	}
	cal := "SELECT " + list + " FROM " + r.db.T(st.calTable) + " WHERE dataset_type_id = ? AND collection_id IN (" + strings.Join(calIDs, ", ") + ")"
	args = append(args, st.id)
	if at != nil {
		cond, cargs := r.overlapCond(*at)
		cal += " AND " + cond
		args = append(args, cargs...)
	}
	parts = append(parts, cal)
	return strings.Join(parts, " UNION ALL "), args
}

// tagColumns lists a tags table's columns as rows are inserted and selected:
// dataset_type_id, dataset_id, collection_id, then the type's required
// dimensions (none for a dimensionless type such as packages).
func (r *Registry) tagColumns(st *storedType) string {
	cols := []string{"dataset_type_id", "dataset_id", "collection_id"}
	for _, d := range st.Dimensions.RequiredNames() {
		cols = append(cols, r.db.Q(d))
	}
	return strings.Join(cols, ", ")
}

// whereClause is " WHERE c1 AND c2 ...", or "" without conditions.
func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// partitionBy is a window's "PARTITION BY ..." clause, or "" without terms
// (the whole result is one partition: a dimensionless type's one data ID).
func partitionBy(terms []string) string {
	if len(terms) == 0 {
		return ""
	}
	return "PARTITION BY " + strings.Join(terms, ", ") + " "
}

// orderByClause is " ORDER BY t1, t2 ...", or "" without terms.
func orderByClause(terms []string) string {
	if len(terms) == 0 {
		return ""
	}
	return " ORDER BY " + strings.Join(terms, ", ")
}

// requiredKey renders the values of the named dimensions as one map key.
func requiredKey(names []string, value func(string) any) string {
	var sb strings.Builder
	for _, n := range names {
		fmt.Fprintf(&sb, "%v\x00", value(n))
	}
	return sb.String()
}

// regionColumns selects the region column of each filter's element.
func (r *Registry) regionColumns(filters []RegionFilter, colExpr map[string]string, from string) ([]string, string) {
	out := make([]string, len(filters))
	for i, f := range filters {
		out[i], from = r.expandWhere("{"+f.Element+".region}", colExpr, from)
	}
	return out, from
}

// regionsOverlap reports whether the selected region columns (base64 text)
// pass their filters; a row without a region fails.
func regionsOverlap(filters []RegionFilter, vals []any) (bool, error) {
	for i, f := range filters {
		reg, err := decodeRegion(vals[i])
		if err != nil {
			return false, fmt.Errorf("%s region: %w", f.Element, err)
		}
		if reg == nil || !reg.Overlaps(f.Region) {
			return false, nil
		}
	}
	return true, nil
}

// decodeRegion decodes a selected region column (base64 text); nil when NULL.
func decodeRegion(v any) (sphgeom.Region, error) {
	var text string
	switch x := v.(type) {
	case string:
		text = x
	case []byte:
		text = string(x)
	default:
		return nil, nil
	}
	return sphgeom.DecodeBase64(text)
}

func parseUUID(v any) (dataset.ID, error) {
	switch x := v.(type) {
	case string:
		return uuid.Parse(x)
	case []byte:
		if len(x) == 16 {
			var id dataset.ID
			copy(id[:], x)
			return id, nil
		}
		return uuid.Parse(string(x))
	case [16]byte:
		return dataset.ID(x), nil
	}
	return dataset.ID{}, fmt.Errorf("dataset id %v (%T): %w: not a UUID", v, v, errs.ErrInvalid)
}

// scanIDs reads rows of one dataset-ID column and closes them.
func scanIDs(rows *sql.Rows) ([]dataset.ID, error) {
	defer rows.Close()
	var out []dataset.ID
	for rows.Next() {
		var v any
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		id, err := parseUUID(v)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// idList is the "?, ?, …" of an IN list of dataset IDs and their values as
// this dialect stores them.
func (r *Registry) idList(ids []dataset.ID) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = r.uuid(id)
	}
	return sqldb.Placeholders(len(ids)), args
}

// UUIDHex renders an ID as stored in SQLite.
func UUIDHex(id dataset.ID) string { return hex.EncodeToString(id[:]) }

// FindDataset returns the first dataset of the type with the data ID in the
// ordered collections, or a nil ref when there is none.
func (r *Registry) FindDataset(ctx context.Context, typeName string, id dimensions.DataID, collections []string) (*dataset.Ref, error) {
	var found *dataset.Ref
	err := r.Datasets(ctx, DatasetQuery{Type: typeName, Collections: collections, FindFirst: true, DataID: id, Limit: 1}, func(ref dataset.Ref) error {
		found = &ref
		return nil
	})
	return found, err
}

// FindDatasets is FindDataset for each of ids, in one query where it can:
// the refs in the order of ids, nil where there is none. A server gathers
// the finds that arrive while its connections are busy into one call.
// Data IDs that do not all name the same required dimensions of the type are
// looked up one by one.
func (r *Registry) FindDatasets(ctx context.Context, typeName string, ids []dimensions.DataID, collections []string) ([]*dataset.Ref, error) {
	out := make([]*dataset.Ref, len(ids))
	one := func() error {
		for i, id := range ids {
			ref, err := r.FindDataset(ctx, typeName, id, collections)
			if err != nil {
				return err
			}
			out[i] = ref
		}
		return nil
	}
	if len(ids) < 2 {
		return out, one()
	}
	st, err := r.storedType(ctx, r.db.Conn(), typeName)
	if err != nil {
		return nil, err
	}
	common, varying, ok := splitDataIDs(st.Dimensions, ids)
	if !ok {
		return out, one()
	}
	index := make(map[string][]int, len(ids)) // the ids with each varying value
	var tuples []dimensions.DataID
	for i, id := range ids {
		k := requiredKey(varying, func(d string) any { return id[d] })
		if _, asked := index[k]; !asked { // asked twice: one tuple answers both
			t := make(dimensions.DataID, len(varying))
			for _, d := range varying {
				t[d] = id[d]
			}
			tuples = append(tuples, t)
		}
		index[k] = append(index[k], i)
	}
	// Padded to a power of two with repeats of the last, so that a server's
	// batches of any size share a few statements (each is prepared once per
	// pooled connection).
	for n := len(tuples); n&(n-1) != 0; n++ {
		tuples = append(tuples, tuples[len(tuples)-1])
	}
	err = r.Datasets(ctx, DatasetQuery{Type: typeName, Collections: collections, FindFirst: true, DataID: common, DataIDs: tuples}, func(ref dataset.Ref) error {
		for _, i := range index[requiredKey(varying, func(d string) any { return ref.DataID[d] })] {
			out[i] = &ref
		}
		return nil
	})
	return out, err
}

// splitDataIDs divides the keys of ids into those with one value in all of
// them (common, with that value) and the others (varying, sorted). ok is
// false unless every id has the same keys, all required dimensions of g, at
// least one of them varying.
func splitDataIDs(g dimensions.Group, ids []dimensions.DataID) (common dimensions.DataID, varying []string, ok bool) {
	required := g.RequiredNames()
	common = dimensions.DataID{}
	for k, v := range ids[0] {
		if !slices.Contains(required, k) {
			return nil, nil, false
		}
		same := true
		for _, id := range ids[1:] {
			w, has := id[k]
			if !has || len(id) != len(ids[0]) {
				return nil, nil, false
			}
			same = same && fmt.Sprint(w) == fmt.Sprint(v)
		}
		if same {
			common[k] = v
		} else {
			varying = append(varying, k)
		}
	}
	sort.Strings(varying)
	return common, varying, len(varying) > 0
}

// Dataset returns the dataset with the given ID, or nil.
func (r *Registry) Dataset(ctx context.Context, id dataset.ID) (*dataset.Ref, error) {
	var typeID, runID int64
	err := r.db.Conn().QueryRow(ctx, "SELECT dataset_type_id, run_id FROM "+r.db.T("dataset")+" WHERE id = ?", r.uuid(id)).Scan(&typeID, &runID)
	if sqldb.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up dataset %s: %w", id, err)
	}
	return r.datasetOf(ctx, id, typeID, runID)
}

// DatasetFiles returns the dataset with the given ID (nil when there is
// none) and its file records in table, as Dataset and FileRecords would, in
// two queries instead of three: the records come with the dataset row (a
// server's get_file asks for both).
func (r *Registry) DatasetFiles(ctx context.Context, id dataset.ID, table string) (*dataset.Ref, []FileRecord, error) {
	c := r.db.Conn()
	ok, err := r.db.TableExists(ctx, c, table)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		ref, err := r.Dataset(ctx, id)
		return ref, nil, err
	}
	rows, err := c.Query(ctx, "SELECT d.dataset_type_id, d.run_id, f.path, f.formatter, f.storage_class, f.component, f.checksum, f.file_size FROM "+
		r.db.T("dataset")+" d LEFT JOIN "+r.db.T(table)+" f ON f.dataset_id = d.id WHERE d.id = ?", r.uuid(id))
	if err != nil {
		return nil, nil, fmt.Errorf("look up dataset %s: %w", id, err)
	}
	var typeID, runID int64
	found := false
	var recs []FileRecord
	for rows.Next() {
		var path, formatter, storageClass, component, sum sql.NullString
		var size sql.NullInt64
		if err := rows.Scan(&typeID, &runID, &path, &formatter, &storageClass, &component, &sum, &size); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("look up dataset %s: %w", id, err)
		}
		found = true
		if !path.Valid {
			continue // no file records (LEFT JOIN)
		}
		recs = append(recs, fileRecord(id, path.String, formatter.String, storageClass.String, component.String, sum, size))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("look up dataset %s: %w", id, err)
	}
	if !found {
		return nil, nil, nil
	}
	ref, err := r.datasetOf(ctx, id, typeID, runID)
	if ref == nil || err != nil {
		return nil, nil, err
	}
	return ref, recs, nil
}

// datasetOf reads the dataset of the given type and run with the given ID.
func (r *Registry) datasetOf(ctx context.Context, id dataset.ID, typeID, runID int64) (*dataset.Ref, error) {
	if err := r.loadTypes(ctx, r.db.Conn()); err != nil {
		return nil, err
	}
	var st *storedType
	r.mu.Lock()
	for _, t := range r.types {
		if t.id == typeID {
			st = t
		}
	}
	r.mu.Unlock()
	if st == nil {
		return nil, fmt.Errorf("dataset %s: %w: its dataset type #%d is unknown", id, errs.ErrInvalid, typeID)
	}
	run, err := cached(r, searchKey("run", strconv.FormatInt(runID, 10), nil, false, nil), func() (*Collection, error) {
		return r.collectionByID(ctx, r.db.Conn(), runID)
	})
	if err != nil {
		return nil, err
	}
	var found *dataset.Ref
	err = r.Datasets(ctx, DatasetQuery{Type: st.Name, Collections: []string{run.Name}, IDs: []dataset.ID{id}}, func(ref dataset.Ref) error {
		found = &ref
		return nil
	})
	return found, err
}

// CollectionDatasetTypes lists the dataset type names the collection summary
// records for a (non-chained) collection.
func (r *Registry) CollectionDatasetTypes(ctx context.Context, name string) ([]string, error) {
	flat, err := r.Flatten(ctx, []string{name})
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, n := range flat {
		col, err := r.Collection(ctx, n)
		if err != nil {
			return nil, err
		}
		rows, err := r.db.Conn().Query(ctx, "SELECT t.name FROM "+r.db.T("collection_summary_dataset_type")+" s JOIN "+r.db.T("dataset_type")+" t ON t.id = s.dataset_type_id WHERE s.collection_id = ?", col.ID)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var t string
			if err := rows.Scan(&t); err != nil {
				rows.Close()
				return nil, err
			}
			set[t] = true
		}
		rows.Close()
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out, nil
}

// expandWhere replaces the placeholders of a translated where expression:
// {dimension} by its column expression and {element.field} by the field of the
// element's table, joined to from on demand (LEFT JOIN on the element's keys).
func (r *Registry) expandWhere(where string, colExpr map[string]string, from string) (string, string) {
	expanded := where
	for _, m := range fieldToken.FindAllStringSubmatch(where, -1) {
		elem, field := m[1], m[2]
		e, ok := r.Universe.Element(elem)
		if !ok || !e.HasTable() {
			continue
		}
		alias := "j_" + elem
		if !strings.Contains(from+" ", " "+alias+" ") {
			var on []string
			for _, d := range e.Dimensions() {
				key := d.Name
				if d == e {
					key = e.PrimaryKey().Name
				}
				on = append(on, alias+"."+r.db.Q(key)+" = "+colExpr[d.Name])
			}
			from += " LEFT JOIN " + r.db.T(e.Name) + " " + alias + " ON " + strings.Join(on, " AND ")
		}
		col := alias + "." + r.db.Q(field)
		if field == "timespan_begin" || field == "timespan_end" {
			col = r.db.Dialect.TimespanBound(alias, "timespan", field == "timespan_end")
		}
		expanded = strings.ReplaceAll(expanded, m[0], col)
	}
	for c, e := range colExpr {
		expanded = strings.ReplaceAll(expanded, "{"+c+"}", e)
	}
	return expanded, from
}

// ExistingIDs returns which of the IDs are stored datasets, in batches (one
// query per batchRows IDs, never one per ID).
func (r *Registry) ExistingIDs(ctx context.Context, ids []dataset.ID) (map[dataset.ID]bool, error) {
	out := map[dataset.ID]bool{}
	for start := 0; start < len(ids); start += batchRows {
		in, args := r.idList(ids[start:min(start+batchRows, len(ids))])
		rows, err := r.db.Conn().Query(ctx, "SELECT id FROM "+r.db.T("dataset")+" WHERE id IN ("+in+")", args...)
		if err != nil {
			return nil, fmt.Errorf("look up dataset IDs: %w", err)
		}
		found, err := scanIDs(rows)
		if err != nil {
			return nil, err
		}
		for _, id := range found {
			out[id] = true
		}
	}
	return out, nil
}

// PruneCollections drops the collections whose summaries say they cannot hold
// datasets of the type with the governor values (daf_butler keeps a summary of
// the dataset types and governor values ever added to each collection), so
// long chains cost only the collections that matter.
func (r *Registry) PruneCollections(ctx context.Context, typeName string, colls []*Collection, governors map[string]any) ([]*Collection, error) {
	if len(colls) == 0 {
		return colls, nil
	}
	st, err := r.storedType(ctx, r.db.Conn(), typeName)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(colls))
	for i, c := range colls {
		ids[i] = fmt.Sprint(c.ID)
	}
	in := " AND collection_id IN (" + strings.Join(ids, ", ") + ")"
	keep, err := r.collectionIDs(ctx, "SELECT collection_id FROM "+r.db.T("collection_summary_dataset_type")+" WHERE dataset_type_id = ?"+in, st.id)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(governors))
	for g := range governors {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		if !st.Dimensions.Has(g) {
			continue
		}
		e, ok := r.Universe.Element(g)
		if !ok || !e.Governor {
			continue
		}
		with, err := r.collectionIDs(ctx, "SELECT collection_id FROM "+r.db.T("collection_summary_"+g)+" WHERE "+r.db.Q(g)+" = ?"+in, governors[g])
		if err != nil {
			return nil, err
		}
		for id := range keep {
			if !with[id] {
				delete(keep, id)
			}
		}
	}
	out := colls[:0:0]
	for _, c := range colls {
		if keep[c.ID] {
			out = append(out, c)
		}
	}
	return out, nil
}

// summaryGovernors returns q's data ID constrained, for each governor
// dimension of the type that the query leaves open, to the one value the
// collections' summaries record, when there is one (daf_butler's query system
// adds these constraints too). Every dataset's governor values are in its
// collection's summary, so the result is the same; but the tags table's
// indexes lead with the governor: on PostgreSQL, which cannot skip-scan,
// "exposure = X" read the whole (instrument, exposure) index (23 ms for 1M
// raws) instead of 205 entries.
func (r *Registry) summaryGovernors(ctx context.Context, st *storedType, colls []*Collection, q DatasetQuery) (dimensions.DataID, error) {
	id := q.DataID
	ids := make([]string, len(colls))
	for i, c := range colls {
		ids[i] = strconv.FormatInt(c.ID, 10)
	}
	for _, g := range st.Dimensions.Governors() {
		if _, ok := q.DataID[g.Name]; ok {
			continue
		}
		if _, ok := q.Governors[g.Name]; ok {
			continue // the where expression constrains it
		}
		vals, err := cached(r, searchKey("governor", g.Name, ids, false, nil), func() ([]any, error) {
			return r.summaryValues(ctx, g.Name, ids)
		})
		if err != nil {
			return nil, err
		}
		vals = slices.Clone(vals)
		if len(vals) != 1 {
			continue
		}
		if g.PrimaryKey().Type == "int" {
			vals[0] = toInt(vals[0])
		}
		next := make(dimensions.DataID, len(id)+1)
		for k, v := range id {
			next[k] = v
		}
		next[g.Name] = vals[0]
		id = next
	}
	return id, nil
}

func (r *Registry) collectionIDs(ctx context.Context, q string, args ...any) (map[int64]bool, error) {
	rows, err := r.db.Conn().Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read collection summaries: %w", err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var v any
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out[toInt(v)] = true
	}
	return out, rows.Err()
}

// summaryValues returns the values of governor g the summaries of the
// collections (IDs) record.
func (r *Registry) summaryValues(ctx context.Context, g string, ids []string) ([]any, error) {
	rows, err := r.db.Conn().Query(ctx, "SELECT DISTINCT "+r.db.Q(g)+" FROM "+r.db.T("collection_summary_"+g)+
		" WHERE collection_id IN ("+strings.Join(ids, ", ")+")")
	if err != nil {
		return nil, fmt.Errorf("read collection summaries: %w", err)
	}
	defer rows.Close()
	var vals []any
	for rows.Next() {
		var v any
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		if b, ok := v.([]byte); ok {
			v = string(b)
		}
		vals = append(vals, v)
	}
	return vals, rows.Err()
}
