package butler

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/query"
	"github.com/gobutler/butler/remote"
	"github.com/gobutler/butler/sphgeom"
	"github.com/gobutler/butler/timespan"
	"github.com/google/uuid"
)

// Data ID and record searches of a remote repository go to the server as
// upstream's serialized query tree (POST v1/query/execute): the where
// expression is parsed here and written as the tree's predicate, a
// conjunction of disjunctions of comparisons, IN lists and ranges over
// dimension keys, fields and literals (bind values become literals), the
// inverse of what internal/server/querytree.go reads. Time and region
// literals are not part of what the server reads yet: a where expression
// with them is errs.ErrUnsupported here.

// treeObj is a JSON object of the query tree.
type treeObj = map[string]any

// maxClauses bounds the conjunctive form of a where expression (an OR of
// ANDs multiplies out).
const maxClauses = 4096

type treeWriter struct {
	u    *dimensions.Universe
	bind map[string]any
}

func (w *treeWriter) unsupported(n query.Node, what string) error {
	return fmt.Errorf("where expression: %w through a remote repository: %s (%s)", errs.ErrUnsupported, what, n)
}

// literal is a column literal of a Go value.
func literal(v any) (treeObj, error) {
	switch x := v.(type) {
	case int:
		return treeObj{"expression_type": "int", "value": x}, nil
	case int64:
		return treeObj{"expression_type": "int", "value": x}, nil
	case float64:
		return treeObj{"expression_type": "float", "value": x}, nil
	case string:
		return treeObj{"expression_type": "string", "value": x}, nil
	case uuid.UUID:
		return treeObj{"expression_type": "uuid", "value": x.String()}, nil
	case time.Time:
		return treeObj{"expression_type": "datetime", "nsec": timespan.FromUTC(x)}, nil
	case timespan.Timespan:
		return timespanLiteral(x.Begin, x.End), nil
	}
	return nil, fmt.Errorf("%w: value %v (%T) through a remote repository: want an int, float, string, UUID, time or timespan", errs.ErrUnsupported, v, v)
}

// timespanLiteral is upstream's TimespanColumnLiteral: TAI nanoseconds, an
// empty span as (Max, Min) as the registry stores it.
func timespanLiteral(begin, end int64) treeObj {
	if begin >= end {
		begin, end = timespan.Empty.Begin, timespan.Empty.End
	}
	return treeObj{"expression_type": "timespan", "begin_nsec": begin, "end_nsec": end}
}

// column is a reference to a dimension key or an element's field.
func column(name string) treeObj {
	parts := strings.Split(name, ".")
	switch len(parts) {
	case 1:
		return treeObj{"expression_type": "dimension_key", "dimension": parts[0]}
	case 3:
		op := map[string]string{"begin": "begin_of", "end": "end_of"}[strings.ToLower(parts[2])]
		if op != "" {
			return treeObj{"expression_type": "unary", "operator": op, "operand": column(parts[0] + "." + parts[1])}
		}
	}
	return treeObj{"expression_type": "dimension_field", "element": parts[0], "field": strings.Join(parts[1:], ".")}
}

// expr writes a column expression.
func (w *treeWriter) expr(n query.Node) (treeObj, error) {
	switch x := n.(type) {
	case *query.Ident:
		name := strings.Join(x.Parts, ".")
		if len(x.Parts) == 1 {
			if v, ok := w.bind[name]; ok {
				return literal(v) // a legacy bind name
			}
		}
		return column(name), nil
	case *query.Bind:
		v, ok := w.bind[x.Name]
		if !ok {
			return nil, fmt.Errorf("where expression: %w: no value bound to :%s", errs.ErrInvalid, x.Name)
		}
		return literal(v)
	case *query.IntLit:
		return literal(x.Value)
	case *query.FloatLit:
		return literal(x.Value)
	case *query.StringLit:
		return literal(x.Value)
	case *query.UUIDLit:
		return literal(uuid.UUID(x.Value))
	case *query.Unary:
		if x.Op == "+" {
			return w.expr(x.X)
		}
		if x.Op == "-" {
			a, err := w.expr(x.X)
			if err != nil {
				return nil, err
			}
			return treeObj{"expression_type": "unary", "operator": "-", "operand": a}, nil
		}
	case *query.Binary:
		switch x.Op {
		case "+", "-", "*", "/", "%":
			a, err := w.expr(x.X)
			if err != nil {
				return nil, err
			}
			b, err := w.expr(x.Y)
			if err != nil {
				return nil, err
			}
			return treeObj{"expression_type": "binary", "operator": x.Op, "a": a, "b": b}, nil
		}
	case *query.TimeLit:
		return treeObj{"expression_type": "datetime", "nsec": x.TAI}, nil
	case *query.Tuple:
		// (begin, end): two time literals, either of them NULL (unbounded).
		var ends [2]int64
		for i, it := range x.Items {
			switch y := it.(type) {
			case *query.TimeLit:
				ends[i] = y.TAI
				continue
			case *query.Ident:
				if y.IsNull() {
					ends[i] = []int64{timespan.Min, timespan.Max}[i]
					continue
				}
			}
			return nil, w.unsupported(n, "timespans other than (time literal or NULL, time literal or NULL)")
		}
		if len(x.Items) != 2 {
			return nil, fmt.Errorf("where expression: %w: a timespan needs exactly two items (begin, end), not %d (%s)", errs.ErrInvalid, len(x.Items), n)
		}
		return timespanLiteral(ends[0], ends[1]), nil
	case *query.Call:
		reg, err := w.region(x)
		if err != nil {
			return nil, err
		}
		return treeObj{"expression_type": "region", "encoded": base64.StdEncoding.EncodeToString(reg.Encode())}, nil
	}
	return nil, w.unsupported(n, "this expression")
}

// cnf is a conjunction of disjunctions of leaves.
type cnf [][]treeObj

func not(leaf treeObj) treeObj {
	if leaf["predicate_type"] == "not" {
		return leaf["operand"].(treeObj)
	}
	return treeObj{"predicate_type": "not", "operand": leaf}
}

// or multiplies out (a1 ∧ a2 …) ∨ (b1 ∧ b2 …).
func or(a, b cnf) (cnf, error) {
	if len(a)*len(b) > maxClauses {
		return nil, fmt.Errorf("where expression: %w through a remote repository: too many OR terms", errs.ErrUnsupported)
	}
	var out cnf
	for _, ca := range a {
		for _, cb := range b {
			out = append(out, append(append([]treeObj{}, ca...), cb...))
		}
	}
	return out, nil
}

// pred writes a boolean expression, negated when neg.
func (w *treeWriter) pred(n query.Node, neg bool) (cnf, error) {
	one := func(leaf treeObj) cnf {
		if neg {
			leaf = not(leaf)
		}
		return cnf{{leaf}}
	}
	switch x := n.(type) {
	case *query.Unary:
		if x.Op == "NOT" {
			return w.pred(x.X, !neg)
		}
	case *query.Binary:
		switch x.Op {
		case "AND", "OR":
			a, err := w.pred(x.X, neg)
			if err != nil {
				return nil, err
			}
			b, err := w.pred(x.Y, neg)
			if err != nil {
				return nil, err
			}
			if (x.Op == "AND") != neg {
				return append(a, b...), nil
			}
			return or(a, b)
		case "=", "!=", "<", "<=", ">", ">=", "OVERLAPS":
			a, err := w.expr(x.X)
			if err != nil {
				return nil, err
			}
			b, err := w.expr(x.Y)
			if err != nil {
				return nil, err
			}
			op := map[string]string{"=": "==", "OVERLAPS": "overlaps"}[x.Op]
			if op == "" {
				op = x.Op
			}
			return one(treeObj{"predicate_type": "comparison", "a": a, "operator": op, "b": b}), nil
		}
	case *query.In:
		m, err := w.expr(x.X)
		if err != nil {
			return nil, err
		}
		var leaves []treeObj
		var items []any
		for _, it := range x.Items {
			if r, ok := it.(*query.RangeLit); ok {
				// The tree's stop is exclusive, as Python's range.
				leaves = append(leaves, treeObj{"predicate_type": "in_range", "member": m, "start": r.Start, "stop": r.Stop + 1, "step": r.Stride})
				continue
			}
			e, err := w.expr(it)
			if err != nil {
				return nil, err
			}
			items = append(items, e)
		}
		if len(items) > 0 {
			leaves = append(leaves, treeObj{"predicate_type": "in_container", "member": m, "container": items})
		}
		if x.Not != neg {
			// NOT (a ∨ b) = ¬a ∧ ¬b
			var out cnf
			for _, l := range leaves {
				out = append(out, []treeObj{not(l)})
			}
			return out, nil
		}
		return cnf{leaves}, nil
	case *query.Call:
		if x.Name == "GLOB" && len(x.Args) == 2 {
			a, err := w.expr(x.Args[0])
			if err != nil {
				return nil, err
			}
			b, err := w.expr(x.Args[1])
			if err != nil {
				return nil, err
			}
			return one(treeObj{"predicate_type": "comparison", "a": a, "operator": "glob", "b": b}), nil
		}
	case *query.Ident:
		return one(treeObj{"predicate_type": "boolean_wrapper", "operand": column(strings.Join(x.Parts, "."))}), nil
	}
	return nil, w.unsupported(n, "this predicate")
}

// predicate writes a where expression and a data ID as the tree's predicate.
func predicate(u *dimensions.Universe, where string, bind map[string]any, id dimensions.DataID) (treeObj, error) {
	w := &treeWriter{u: u, bind: bind}
	var clauses cnf
	if strings.TrimSpace(where) != "" {
		ast, err := query.Parse(where)
		if err != nil {
			return nil, err
		}
		if clauses, err = w.pred(ast, false); err != nil {
			return nil, err
		}
	}
	keys := make([]string, 0, len(id))
	for k := range id {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := literal(id[k])
		if err != nil {
			return nil, fmt.Errorf("data ID %s: %w", k, err)
		}
		clauses = append(clauses, []treeObj{{"predicate_type": "comparison", "a": column(k), "operator": "==", "b": v}})
	}
	if clauses == nil {
		clauses = cnf{}
	}
	return treeObj{"operands": clauses}, nil
}

// orderBy writes --order-by terms ("-" prefix: descending).
func orderBy(terms []string) []any {
	out := []any{}
	for _, t := range terms {
		if name, ok := strings.CutPrefix(t, "-"); ok {
			out = append(out, treeObj{"expression_type": "reversed", "operand": column(name)})
			continue
		}
		out = append(out, column(t))
	}
	return out
}

// queryTree is a QueryTree of the dimensions, joining the datasets
// searched in the collections.
func (b server) queryTree(ctx context.Context, dims []string, datasets, collections []string, pred treeObj) (treeObj, error) {
	g, err := b.Universe.Group(dims...)
	if err != nil {
		return nil, err
	}
	all := g.RequiredNames()
	joined := treeObj{}
	for _, name := range datasets {
		t, err := b.remote.DatasetType(ctx, name)
		if err != nil {
			return nil, err
		}
		td := t.Dimensions.RequiredNames()
		joined[name] = treeObj{"collections": collections, "dimensions": td}
		all = append(all, td...)
	}
	if g, err = b.Universe.Group(all...); err != nil {
		return nil, err
	}
	if all = g.RequiredNames(); all == nil {
		all = []string{}
	}
	return treeObj{"dimensions": all, "datasets": joined, "any_dataset": nil, "data_coordinate_uploads": treeObj{},
		"materializations": treeObj{}, "predicate": pred}, nil
}

// execute runs a query tree with a result spec and passes each row to fn.
func (b server) execute(ctx context.Context, tree, spec treeObj, fn func(json.RawMessage) error) error {
	body := treeObj{"query": treeObj{"tree": tree, "default_data_id": treeObj{"dataId": treeObj{}}, "additional_query_inputs": []any{}},
		"result_spec": spec}
	for row, err := range b.remote.Execute(ctx, body) {
		if err != nil {
			return err
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return nil
}

func limitOf(n int) any {
	if n > 0 {
		return n
	}
	return nil
}

// searchDataIDs runs a data ID search on the server.
func (b server) searchDataIDs(ctx context.Context, s DataIDSearch, fn func(dimensions.DataID) error) error {
	pred, err := predicate(b.Universe, s.Where, s.Bind, s.DataID)
	if err != nil {
		return err
	}
	tree, err := b.queryTree(ctx, s.Dimensions, s.Datasets, s.Collections, pred)
	if err != nil {
		return err
	}
	g, err := b.Universe.Group(s.Dimensions...)
	if err != nil {
		return err
	}
	dims := g.RequiredNames()
	if dims == nil {
		dims = []string{}
	}
	spec := treeObj{"result_type": "data_coordinate", "dimensions": dims, "include_dimension_records": false,
		"order_by": orderBy(s.OrderBy), "limit": limitOf(s.Limit)}
	return b.execute(ctx, tree, spec, func(row json.RawMessage) error {
		var dc struct {
			DataID map[string]any `json:"dataId"`
		}
		if err := decodeNumbers(row, &dc); err != nil {
			return fmt.Errorf("data ID from %s: %w", b.Root, err)
		}
		return fn(remote.DataID(dc.DataID))
	})
}

// searchRecords runs a dimension record search on the server.
func (b server) searchRecords(ctx context.Context, s RecordSearch, fn func(dimensions.Record) error) error {
	e, ok := b.Universe.Element(s.Element)
	if !ok {
		return fmt.Errorf("query records: %w: no dimension element %q", errs.ErrNotFound, s.Element)
	}
	pred, err := predicate(b.Universe, s.Where, s.Bind, s.DataID)
	if err != nil {
		return err
	}
	var dims []string
	for _, d := range e.Dimensions() {
		dims = append(dims, d.Name)
	}
	tree, err := b.queryTree(ctx, dims, s.Datasets, s.Collections, pred)
	if err != nil {
		return err
	}
	var order []string
	for _, t := range s.OrderBy {
		// Record fields are the element's own.
		name, desc := strings.CutPrefix(t, "-")
		if !strings.Contains(name, ".") && name != e.Name {
			name = e.Name + "." + name
		}
		if desc {
			name = "-" + name
		}
		order = append(order, name)
	}
	spec := treeObj{"result_type": "dimension_record", "element": e.Name, "order_by": orderBy(order), "limit": limitOf(s.Limit)}
	return b.execute(ctx, tree, spec, func(row json.RawMessage) error {
		var rec struct {
			Definition string         `json:"definition"`
			Record     map[string]any `json:"record"`
		}
		if err := decodeNumbers(row, &rec); err != nil {
			return fmt.Errorf("%s record from %s: %w", e.Name, b.Root, err)
		}
		r, err := remote.RecordOf(e, rec.Record)
		if err != nil {
			return fmt.Errorf("%s record from %s: %w", e.Name, b.Root, err)
		}
		return fn(r)
	})
}

func decodeNumbers(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

// orderedDatasets runs an ordered dataset search, of one dataset
// type, as a query tree (query/all_datasets has no order).
func (b server) orderedDatasets(ctx context.Context, s DatasetSearch, fn func(dataset.Ref) error) error {
	types, err := b.remote.DatasetTypes(ctx, s.Types...)
	if err != nil {
		return err
	}
	if len(types) != 1 {
		return fmt.Errorf("query datasets: %w: results of several dataset types (%d match) cannot be ordered; name one type", errs.ErrInvalid, len(types))
	}
	t := types[0]
	pred, err := predicate(b.Universe, s.Where, s.Bind, s.DataID)
	if err != nil {
		return err
	}
	tree, err := b.queryTree(ctx, t.Dimensions.RequiredNames(), []string{t.Name}, s.Collections, pred)
	if err != nil {
		return err
	}
	spec := treeObj{"result_type": "dataset_ref", "dataset_type_name": t.Name, "dimensions": tree["dimensions"], "find_first": s.FindFirst,
		"include_dimension_records": false, "order_by": orderBy(s.OrderBy), "limit": limitOf(s.Limit)}
	return b.execute(ctx, tree, spec, func(row json.RawMessage) error {
		ref, err := b.remote.Ref(row)
		if err != nil {
			return err
		}
		return fn(ref)
	})
}

// region evaluates a region literal (POINT, CIRCLE, BOX, POLYGON of
// degrees, REGION of an IVOA POS string) as a local where expression
// does, for upstream's region column literal.
func (w *treeWriter) region(x *query.Call) (sphgeom.Region, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("where expression: %w: %s (%s)", errs.ErrInvalid, fmt.Sprintf(format, args...), x)
	}
	if x.Name == "REGION" {
		var pos any
		if len(x.Args) == 1 {
			switch a := x.Args[0].(type) {
			case *query.StringLit:
				pos = a.Value
			case *query.Bind:
				pos = w.bind[a.Name]
			}
		}
		s, ok := pos.(string)
		if !ok {
			return nil, bad("REGION needs an IVOA POS string (a literal or a bound string)")
		}
		return sphgeom.ParsePOS(s)
	}
	nums := make([]float64, len(x.Args))
	for i, a := range x.Args {
		v, err := w.expr(a)
		if err != nil {
			return nil, err
		}
		neg := 1.0
		if v["expression_type"] == "unary" && v["operator"] == "-" {
			v, neg = v["operand"].(treeObj), -1
		}
		switch n := v["value"].(type) {
		case int:
			nums[i] = neg * float64(n)
		case int64:
			nums[i] = neg * float64(n)
		case float64:
			nums[i] = neg * n
		default:
			return nil, bad("%s arguments must be numbers (degrees) or bound numbers", x.Name)
		}
	}
	var reg sphgeom.Region
	var err error
	switch {
	case x.Name == "POINT" && len(nums) == 2:
		reg, err = sphgeom.Point(nums[0], nums[1])
	case x.Name == "CIRCLE" && len(nums) == 3:
		reg, err = sphgeom.NewCircleDeg(nums[0], nums[1], 2*nums[2]) // daf_butler's opening angle of 2r, as local queries
	case x.Name == "BOX" && len(nums) == 4:
		reg, err = sphgeom.NewBoxDeg(nums[0], nums[1], nums[2], nums[3])
	case x.Name == "POLYGON":
		reg, err = sphgeom.NewPolygonDeg(nums...)
	default:
		return nil, w.unsupported(x, "this function")
	}
	if err != nil {
		return nil, bad("%s: %v", x.Name, err)
	}
	return reg, nil
}
