package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dimensions"
)

// The query routes (query/execute, count, any, explain) receive upstream's
// serialized query tree (queries/tree/*.py, result_specs.py): the query's
// dimensions, its dataset searches, a predicate (AND of ORs of leaves over
// column references and literals) and a result spec. This server reads the
// common part of that language: one dataset search (or several over the
// same collections), comparisons, IN lists and ranges, NOT, boolean
// columns, arithmetic, dimension keys and fields, and int, float, string and
// UUID literals; and data_coordinate, dimension_record and dataset_ref
// results with order_by and limit. The predicate becomes a where expression
// of the daf_butler language with every literal a bind value, so the
// repository's own query planner runs it. The rest (uploads,
// materializations, any_dataset, general results, time and region
// literals, IN subqueries) is answered with unimplemented_query.

type queryInputs struct {
	Tree          queryTreeJSON `json:"tree"`
	DefaultDataID struct {
		DataID map[string]any `json:"dataId"`
	} `json:"default_data_id"`
	AdditionalQueryInputs []json.RawMessage `json:"additional_query_inputs"`
}

type queryTreeJSON struct {
	Dimensions []string `json:"dimensions"`
	Datasets   map[string]struct {
		Collections []string `json:"collections"`
		Dimensions  []string `json:"dimensions"`
	} `json:"datasets"`
	AnyDataset            json.RawMessage            `json:"any_dataset"`
	DataCoordinateUploads map[string]json.RawMessage `json:"data_coordinate_uploads"`
	Materializations      map[string]json.RawMessage `json:"materializations"`
	Predicate             struct {
		Operands [][]json.RawMessage `json:"operands"`
	} `json:"predicate"`
}

type resultSpecJSON struct {
	ResultType              string            `json:"result_type"`
	OrderBy                 []json.RawMessage `json:"order_by"`
	Limit                   *int              `json:"limit"`
	Dimensions              []string          `json:"dimensions"`
	IncludeDimensionRecords bool              `json:"include_dimension_records"`
	Element                 string            `json:"element"`
	DatasetTypeName         string            `json:"dataset_type_name"`
	FindFirst               bool              `json:"find_first"`
}

type queryRequest struct {
	Query      queryInputs    `json:"query"`
	ResultSpec resultSpecJSON `json:"result_spec"`
	Execute    bool           `json:"execute"`
	Exact      bool           `json:"exact"`
	Discard    bool           `json:"discard"`
}

func unimplemented(format string, args ...any) error {
	return &userError{typ: errUnimplemented, err: fmt.Errorf("this server does not support "+format+" in queries yet", args...)}
}

func invalidQuery(format string, args ...any) error {
	return &userError{typ: errInvalidQuery, err: fmt.Errorf(format, args...)}
}

// whereBuilder writes a predicate as a where expression with bind values.
type whereBuilder struct {
	bind map[string]any
}

func (w *whereBuilder) literal(v any) string {
	name := "p" + strconv.Itoa(len(w.bind))
	w.bind[name] = v
	return ":" + name
}

// expr node: any of the column expression or literal models.
type exprJSON struct {
	ExpressionType string          `json:"expression_type"`
	Dimension      string          `json:"dimension"`
	Element        string          `json:"element"`
	Field          string          `json:"field"`
	DatasetType    json.RawMessage `json:"dataset_type"`
	Value          json.RawMessage `json:"value"`
	Operand        json.RawMessage `json:"operand"`
	Operator       string          `json:"operator"`
	A              json.RawMessage `json:"a"`
	B              json.RawMessage `json:"b"`
	Nsec           *int64          `json:"nsec"`       // datetime
	BeginNsec      *int64          `json:"begin_nsec"` // timespan
	EndNsec        *int64          `json:"end_nsec"`
	Encoded        *string         `json:"encoded"` // region (base64 of its sphgeom encoding)
}

func (w *whereBuilder) expr(raw json.RawMessage) (string, error) {
	var e exprJSON
	if err := json.Unmarshal(raw, &e); err != nil {
		return "", invalidQuery("malformed column expression %s", raw)
	}
	switch e.ExpressionType {
	case "dimension_key":
		return e.Dimension, nil
	case "dimension_field":
		return e.Element + "." + e.Field, nil
	case "dataset_field":
		var name string
		if json.Unmarshal(e.DatasetType, &name) != nil {
			return "", unimplemented("dataset fields of any dataset type")
		}
		return name + "." + e.Field, nil
	case "int", "float", "string", "uuid", "datetime", "timespan", "region":
		v, err := bindValue("literal", columnLiteral{ExpressionType: e.ExpressionType, Value: e.Value, Nsec: e.Nsec, BeginNsec: e.BeginNsec, EndNsec: e.EndNsec, Encoded: e.Encoded})
		if err != nil {
			return "", err
		}
		return w.literal(v), nil
	case "unary":
		x, err := w.expr(e.Operand)
		if err != nil {
			return "", err
		}
		switch e.Operator {
		case "-":
			return "-(" + x + ")", nil
		case "begin_of":
			return x + ".begin", nil
		case "end_of":
			return x + ".end", nil
		}
	case "binary":
		a, err := w.expr(e.A)
		if err != nil {
			return "", err
		}
		b, err := w.expr(e.B)
		if err != nil {
			return "", err
		}
		switch e.Operator {
		case "+", "-", "*", "/", "%":
			return "(" + a + " " + e.Operator + " " + b + ")", nil
		}
	default:
		return "", unimplemented("%q expressions", e.ExpressionType)
	}
	return "", unimplemented("the %q operator", e.Operator)
}

type leafJSON struct {
	PredicateType string            `json:"predicate_type"`
	Operand       json.RawMessage   `json:"operand"`
	Operator      string            `json:"operator"`
	A             json.RawMessage   `json:"a"`
	B             json.RawMessage   `json:"b"`
	Member        json.RawMessage   `json:"member"`
	Container     []json.RawMessage `json:"container"`
	Start         int64             `json:"start"`
	Stop          *int64            `json:"stop"`
	Step          int64             `json:"step"`
}

func (w *whereBuilder) leaf(raw json.RawMessage) (string, error) {
	var l leafJSON
	if err := json.Unmarshal(raw, &l); err != nil {
		return "", invalidQuery("malformed predicate %s", raw)
	}
	switch l.PredicateType {
	case "not":
		x, err := w.leaf(l.Operand)
		if err != nil {
			return "", err
		}
		return "NOT (" + x + ")", nil
	case "boolean_wrapper":
		return w.expr(l.Operand)
	case "comparison":
		a, err := w.expr(l.A)
		if err != nil {
			return "", err
		}
		b, err := w.expr(l.B)
		if err != nil {
			return "", err
		}
		op := map[string]string{"==": "=", "!=": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">=", "overlaps": "OVERLAPS"}[l.Operator]
		if l.Operator == "glob" {
			return "GLOB(" + a + ", " + b + ")", nil
		}
		if op == "" {
			return "", unimplemented("the %q comparison", l.Operator)
		}
		return a + " " + op + " " + b, nil
	case "in_container":
		m, err := w.expr(l.Member)
		if err != nil {
			return "", err
		}
		if len(l.Container) == 0 {
			return "", unimplemented("empty IN lists")
		}
		items := make([]string, len(l.Container))
		for i, c := range l.Container {
			if items[i], err = w.expr(c); err != nil {
				return "", err
			}
		}
		return m + " IN (" + strings.Join(items, ", ") + ")", nil
	case "in_range":
		m, err := w.expr(l.Member)
		if err != nil {
			return "", err
		}
		if l.Stop == nil {
			return m + " >= " + w.literal(l.Start), nil
		}
		step := l.Step
		if step <= 0 {
			step = 1
		}
		// The tree's stop is exclusive (Python's range); the language's inclusive.
		last := *l.Stop - 1
		if last < l.Start {
			return "", unimplemented("empty ranges")
		}
		return fmt.Sprintf("%s IN (%d..%d:%d)", m, l.Start, last, step), nil
	}
	return "", unimplemented("%q predicates", l.PredicateType)
}

// where writes the tree's predicate (AND of ORs).
func (w *whereBuilder) where(operands [][]json.RawMessage) (string, error) {
	var ands []string
	for _, or := range operands {
		if len(or) == 0 {
			return "", unimplemented("a predicate that is always false")
		}
		var ors []string
		for _, leaf := range or {
			s, err := w.leaf(leaf)
			if err != nil {
				return "", err
			}
			ors = append(ors, "("+s+")")
		}
		ands = append(ands, strings.Join(ors, " OR "))
	}
	if len(ands) == 0 {
		return "", nil
	}
	return "(" + strings.Join(ands, ") AND (") + ")", nil
}

// plan is a query tree made into a query of the Go API.
type plan struct {
	q        butler.Query
	spec     resultSpecJSON
	datasets []string // dataset types joined
	dims     []string
}

func (s *Server) planQuery(c *call, in queryInputs, spec resultSpecJSON) (*plan, error) {
	t := in.Tree
	switch {
	case len(in.AdditionalQueryInputs) > 0 || len(t.DataCoordinateUploads) > 0:
		return nil, unimplemented("uploaded data IDs")
	case len(t.Materializations) > 0:
		return nil, unimplemented("materialized subqueries")
	case len(t.AnyDataset) > 0 && string(t.AnyDataset) != "null":
		return nil, unimplemented("searches for any dataset type")
	}
	w := &whereBuilder{bind: map[string]any{}}
	where, err := w.where(t.Predicate.Operands)
	if err != nil {
		return nil, err
	}
	b := c.repo.b
	p := &plan{q: b.Query().Where(where, w.bind), spec: spec, dims: t.Dimensions}
	var collections []string
	for name, ds := range t.Datasets {
		if collections != nil && strings.Join(collections, "\x00") != strings.Join(ds.Collections, "\x00") {
			return nil, unimplemented("dataset searches in different collections")
		}
		collections = ds.Collections
		p.datasets = append(p.datasets, name)
	}
	if collections != nil {
		p.q = p.q.Collections(collections...)
	}
	// The default data ID fills in governors (instrument, skymap) the
	// predicate does not constrain, as upstream's query defaults do.
	defaults, err := dataIDOf(in.DefaultDataID.DataID)
	if err != nil {
		return nil, asUser(err, errDimensionValue)
	}
	fill := dimensions.DataID{}
	for k, v := range defaults {
		if e, ok := b.Universe.Element(k); ok && e.Governor && containsName(t.Dimensions, k) && !strings.Contains(where, k) {
			fill[k] = v
		}
	}
	if len(fill) > 0 {
		p.q = p.q.DataID(fill)
	}
	var order []string
	for _, raw := range spec.OrderBy {
		var e exprJSON
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, invalidQuery("malformed order_by term %s", raw)
		}
		desc := ""
		if e.ExpressionType == "reversed" {
			desc, raw = "-", e.Operand
		}
		term, err := (&whereBuilder{bind: map[string]any{}}).expr(raw)
		if err != nil {
			return nil, err
		}
		order = append(order, desc+term)
	}
	if len(order) > 0 {
		p.q = p.q.OrderBy(order...)
	}
	if spec.Limit != nil && *spec.Limit > 0 {
		p.q = p.q.Limit(*spec.Limit, 0)
	}
	switch spec.ResultType {
	case "dataset_ref":
		if _, ok := t.Datasets[spec.DatasetTypeName]; !ok {
			return nil, invalidQuery("dataset type %q is not joined into the query", spec.DatasetTypeName)
		}
		p.q = p.q.FindFirst(spec.FindFirst)
	case "data_coordinate", "dimension_record":
	case "general":
		return nil, unimplemented("general (column) results")
	default:
		return nil, invalidQuery("unknown result type %q", spec.ResultType)
	}
	return p, nil
}

func containsName(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// run streams a plan's rows in pages of its result type.
func (s *Server) run(ctx context.Context, c *call, p *plan, emit func(any) error) error {
	b := c.repo.b
	spec := p.spec
	var rows []any
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		err := emit(object{{"type", spec.ResultType}, {"rows", rows}})
		rows = nil
		return err
	}
	add := func(v any) error {
		if rows = append(rows, v); len(rows) == pageRows {
			return flush()
		}
		return nil
	}
	switch spec.ResultType {
	case "dataset_ref":
		for ref, err := range p.q.Datasets(ctx, spec.DatasetTypeName) {
			if err != nil {
				return asUser(err, errInvalidQuery)
			}
			out, err := s.refOut(ctx, c, ref, spec.IncludeDimensionRecords)
			if err != nil {
				return err
			}
			if err := add(out); err != nil {
				return err
			}
		}
	case "data_coordinate":
		g, err := b.Universe.Group(spec.Dimensions...)
		if err != nil {
			return asUser(err, errDimensionName)
		}
		for id, err := range p.q.DataIDs(ctx, g.RequiredNames(), p.datasets...) {
			if err != nil {
				return asUser(err, errInvalidQuery)
			}
			dc := dataCoordinateJSON{DataID: dataIDObject(g, id)}
			if spec.IncludeDimensionRecords {
				req := dimensions.DataID{}
				for _, e := range g.Required {
					req[e.Name] = id[e.Name]
				}
				full, recs, err := b.ExpandDataID(ctx, g.RequiredNames(), req)
				if err != nil {
					return err
				}
				dc = dataCoordinateJSON{DataID: dataIDObject(g, full), Records: recordsObject(b.Universe, g, full, recs)}
			}
			if err := add(dc); err != nil {
				return err
			}
		}
	case "dimension_record":
		for rec, err := range p.q.DimensionRecords(ctx, spec.Element) {
			if err != nil {
				return asUser(err, errInvalidQuery)
			}
			if err := add(recordJSON(rec)); err != nil {
				return err
			}
		}
	}
	return flush()
}

// queryExecute is POST v1/query/execute: the rows, streamed.
func (s *Server) queryExecute(ctx context.Context, c *call) error {
	var req queryRequest
	if err := decode(c.r, &req); err != nil {
		return err
	}
	p, err := s.planQuery(c, req.Query, req.ResultSpec)
	if err != nil {
		return err
	}
	return s.stream(ctx, c, func(ctx context.Context, emit func(any) error) error {
		return s.run(ctx, c, p, emit)
	})
}

// queryCount is POST v1/query/count.
func (s *Server) queryCount(ctx context.Context, c *call) error {
	var req queryRequest
	if err := decode(c.r, &req); err != nil {
		return err
	}
	p, err := s.planQuery(c, req.Query, req.ResultSpec)
	if err != nil {
		return err
	}
	n := 0
	err = s.run(ctx, c, p, func(page any) error {
		n += len(page.(object)[1].Value.([]any))
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, object{{"count", n}})
	return nil
}

// queryAny is POST v1/query/any.
func (s *Server) queryAny(ctx context.Context, c *call) error {
	var req queryRequest
	if err := decode(c.r, &req); err != nil {
		return err
	}
	spec := resultSpecJSON{ResultType: "data_coordinate", Dimensions: req.Query.Tree.Dimensions, Limit: ptrTo(1)}
	if len(req.Query.Tree.Datasets) == 1 {
		for name := range req.Query.Tree.Datasets {
			spec = resultSpecJSON{ResultType: "dataset_ref", DatasetTypeName: name, Limit: ptrTo(1)}
		}
	}
	p, err := s.planQuery(c, req.Query, spec)
	if err != nil {
		return err
	}
	found := false
	err = s.run(ctx, c, p, func(any) error { found = true; return nil })
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, object{{"found_rows", found}})
	return nil
}

// queryExplain is POST v1/query/explain: why the query finds nothing.
func (s *Server) queryExplain(ctx context.Context, c *call) error {
	var req queryRequest
	if err := decode(c.r, &req); err != nil {
		return err
	}
	messages := []string{}
	if len(req.Query.Tree.Datasets) == 1 {
		for name := range req.Query.Tree.Datasets {
			p, err := s.planQuery(c, req.Query, resultSpecJSON{ResultType: "dataset_ref", DatasetTypeName: name})
			if err != nil {
				return err
			}
			why, err := p.q.Explain(ctx, name)
			if err != nil {
				return asUser(err, errInvalidQuery)
			}
			messages = append(messages, why...)
		}
	}
	writeJSON(c.w, http.StatusOK, object{{"messages", messages}})
	return nil
}

func ptrTo[T any](v T) *T { return &v }
