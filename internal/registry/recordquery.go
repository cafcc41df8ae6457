package registry

import (
	"context"
	"strings"

	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/query"
	"github.com/gobutler/butler/sphgeom"
)

// RecordQuery selects the records of one element.
type RecordQuery struct {
	Element *dimensions.Element
	// DataID constrains the element's dimensions and those it implies.
	DataID  dimensions.DataID
	Where   string // the where expression language of daf_butler, over the element's fields
	Bind    map[string]any
	OrderBy []string // record fields ("-" prefix: descending)
}

// RecordPlan is a RecordQuery checked and translated, ready to run.
type RecordPlan struct {
	element string
	where   string
	args    []any
	order   []OrderTerm
	refine  []RegionFilter
}

// dataIDConds is the condition on the records of e that dims take the values
// id gives them.
func (r *Registry) dataIDConds(e *dimensions.Element, dims []*dimensions.Element, id dimensions.DataID) ([]string, []any, error) {
	var conds []string
	var args []any
	for _, d := range dims {
		v, ok := id[d.Name]
		if !ok {
			continue
		}
		cv, err := dimensions.ConvertKey(d, v)
		if err != nil {
			return nil, nil, err
		}
		col := d.Name
		if d == e {
			col = e.PrimaryKey().Name
		}
		conds = append(conds, r.db.Q(col)+" = ?")
		args = append(args, cv)
	}
	return conds, args, nil
}

// PlanRecords checks and translates a record query.
func (r *Registry) PlanRecords(q RecordQuery) (*RecordPlan, error) {
	e := q.Element
	conds, args, err := r.dataIDConds(e, append(e.Dimensions(), e.Implied...), q.DataID)
	if err != nil {
		return nil, err
	}
	p := &RecordPlan{element: e.Name}
	if strings.TrimSpace(q.Where) != "" {
		ast, err := query.Parse(q.Where)
		if err != nil {
			return nil, err
		}
		w, err := r.Translate(ast, r.recordResolver(e), q.Bind)
		if err != nil {
			return nil, err
		}
		text := w.SQL
		for _, d := range e.Dimensions() {
			// Region conditions name the element's keys as {dimension}.
			col := d.Name
			if d == e {
				col = e.PrimaryKey().Name
			}
			text = strings.ReplaceAll(text, "{"+d.Name+"}", r.db.T(e.Name)+"."+r.db.Q(col))
		}
		conds = append(conds, text)
		args = append(args, w.Args...)
		p.refine = w.Refine
	}
	if p.order, err = orderTerms(q.OrderBy, r.recordResolver(e)); err != nil {
		return nil, err
	}
	p.where, p.args = strings.Join(conds, " AND "), args
	return p, nil
}

// EachPlannedRecord streams the records of a plan to fn, in its order.
func (r *Registry) EachPlannedRecord(ctx context.Context, p *RecordPlan, fn func(dimensions.Record) error) error {
	return r.eachRecordOrdered(ctx, r.db.Conn(), p.element, p.where, p.args, p.order, func(rec dimensions.Record) error {
		for _, f := range p.refine {
			raw, _ := rec.Values["region"].([]byte)
			reg, err := sphgeom.Decode(raw)
			if err != nil || !reg.Overlaps(f.Region) {
				return nil
			}
		}
		return fn(rec)
	})
}

// RecordsOf reads the records of e whose dimensions take the values id gives them.
func (r *Registry) RecordsOf(ctx context.Context, e *dimensions.Element, id dimensions.DataID) ([]dimensions.Record, error) {
	conds, args, err := r.dataIDConds(e, e.Dimensions(), id)
	if err != nil {
		return nil, err
	}
	return r.records(ctx, r.db.Conn(), e.Name, strings.Join(conds, " AND "), args...)
}

// EachRecord streams every record of an element to fn.
func (tx *Tx) EachRecord(ctx context.Context, element string, fn func(dimensions.Record) error) error {
	return tx.r.eachRecord(ctx, tx.c, element, "", nil, fn)
}
