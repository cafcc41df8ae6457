package registry

// Name resolution of where expressions and order-by terms: which column a
// name of the query language is, for dataset, data ID and record queries.

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/query"
)

// QueryGroup is the dimensions of a dataset query: the type's, plus those of
// the elements the where expression names (visit for raws, tract for calexps).
func (r *Registry) QueryGroup(g dimensions.Group, ast query.Node, binds map[string]any) dimensions.Group {
	names := g.Names()
	extra := false
	for _, id := range query.Idents(ast) {
		if len(id.Parts) == 1 {
			if _, bound := binds[id.Parts[0]]; bound {
				continue
			}
		}
		e, ok := r.Universe.Element(id.Parts[0])
		if !ok || !e.HasTable() && e.ViewOf == "" || coveredBy(e, g) {
			continue
		}
		for _, d := range e.Dimensions() {
			if !g.Has(d.Name) {
				names = append(names, d.Name)
				extra = true
			}
		}
	}
	if !extra {
		return g
	}
	wide, err := r.Universe.Group(names...)
	if err != nil {
		return g
	}
	return wide
}

// coveredBy reports whether all of an element's dimensions are in g.
func coveredBy(e *dimensions.Element, g dimensions.Group) bool {
	if e.IsDimension() && !g.Has(e.Name) {
		return false
	}
	for _, d := range e.Dimensions() {
		if !g.Has(d.Name) {
			return false
		}
	}
	return true
}

// GovernorConstraints collects the governor values a search requires: from its
// data ID and from "governor = value" terms ANDed at the top of its where
// expression. Collections whose summaries lack them are skipped.
func (r *Registry) GovernorConstraints(id dimensions.DataID, ast query.Node, binds map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range id {
		if e, ok := r.Universe.Element(k); ok && e.Governor {
			out[k] = v
		}
	}
	var walk func(n query.Node)
	walk = func(n query.Node) {
		x, ok := n.(*query.Binary)
		if !ok {
			return
		}
		switch x.Op {
		case "AND":
			walk(x.X)
			walk(x.Y)
		case "=":
			for _, pair := range [][2]query.Node{{x.X, x.Y}, {x.Y, x.X}} {
				id, ok := pair[0].(*query.Ident)
				if !ok || len(id.Parts) != 1 {
					continue
				}
				if e, ok := r.Universe.Element(id.Parts[0]); !ok || !e.Governor {
					continue
				}
				if _, bound := binds[id.Parts[0]]; bound {
					continue
				}
				switch v := pair[1].(type) {
				case *query.StringLit:
					out[id.Parts[0]] = v.Value
				case *query.Bind:
					if bv, ok := binds[v.Name].(string); ok {
						out[id.Parts[0]] = bv
					}
				}
			}
		}
	}
	if ast != nil {
		walk(ast)
	}
	return out
}

// datasetTypeResolver adds the dataset fields qualified by the type's name
// (flat.dataset_id, raw.ingest_date, calexp.run, bias.collection).
func datasetTypeResolver(t dataset.Type, dims Resolver) Resolver {
	return func(parts []string) (Column, error) {
		if len(parts) == 2 && parts[0] == t.Name {
			if c, ok := datasetField(parts[1]); ok {
				return c, nil
			}
			return Column{}, fmt.Errorf("dataset type %s has no field %q (fields: dataset_id, ingest_date, run, collection)", t.Name, parts[1])
		}
		return dims(parts)
	}
}

// datasetField is a field every dataset has, as a where-expression column.
func datasetField(name string) (Column, bool) {
	kind := map[string]Kind{"dataset_id": KindUUID, "ingest_date": KindTime, "run": KindString, "collection": KindString}[name]
	if kind == "" {
		return Column{}, false
	}
	return Column{SQL: "{" + name + "}", Kind: kind}, true
}

// orderTerms resolves order-by names ("-" prefix: descending) with resolve.
func orderTerms(names []string, resolve Resolver) ([]OrderTerm, error) {
	var out []OrderTerm
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		desc := strings.HasPrefix(n, "-")
		n = strings.TrimPrefix(n, "-")
		col, err := resolve(strings.Split(n, "."))
		if err == nil {
			switch col.Kind {
			case KindTimespan:
				err = fmt.Errorf("a timespan cannot be ordered: use %s.begin or %s.end", n, n)
			case KindRegion:
				err = fmt.Errorf("a region cannot be ordered")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("order by %q: %w: %w", n, errs.ErrInvalid, err)
		}
		out = append(out, OrderTerm{Expr: col.SQL, Desc: desc})
	}
	return out, nil
}

// fieldKind is the where-expression kind of a dimension record field.
func fieldKind(f dimensions.Field) Kind {
	return Kind(f.Type)
}

// elementColumn is field of element e as a where-expression column, its
// placeholders made by ph ("{visit.name}" in dataset and data ID queries);
// ok is false when e has no such field.
func elementColumn(e *dimensions.Element, field string, ph func(field string) string) (Column, bool) {
	for _, f := range append(append([]dimensions.Field(nil), e.Keys...), e.Metadata...) {
		if f.Name == field {
			return Column{SQL: ph(field), Kind: fieldKind(f)}, true
		}
	}
	switch {
	case field == "timespan" && e.Temporal != "":
		return Column{Kind: KindTimespan, Begin: ph("timespan_begin"), End: ph("timespan_end")}, true
	case field == "region" && e.Spatial != "":
		return Column{SQL: ph("region"), Kind: KindRegion, Element: e.Name}, true
	}
	return Column{}, false
}

// elementFields lists the fields of e a where expression may name.
func elementFields(e *dimensions.Element) []string {
	var known []string
	for _, f := range append(append([]dimensions.Field(nil), e.Keys...), e.Metadata...) {
		known = append(known, f.Name)
	}
	if e.Temporal != "" {
		known = append(known, "timespan")
	}
	if e.Spatial != "" {
		known = append(known, "region")
	}
	return known
}

// timespanBound is the begin or end of a timespan column, a time.
func timespanBound(c Column, bound, name string) (Column, error) {
	if c.Kind != KindTimespan {
		return Column{}, fmt.Errorf("%s is a %s, not a timespan: it has no %s", name, c.Kind, bound)
	}
	switch bound {
	case "begin":
		return Column{SQL: c.Begin, Kind: KindTime}, nil
	case "end":
		return Column{SQL: c.End, Kind: KindTime}, nil
	}
	return Column{}, fmt.Errorf("unknown field %q of %s: a timespan has begin and end", bound, name)
}

// resolverFor maps where-expression identifiers onto a dataset type's columns.
func (r *Registry) resolverFor(g dimensions.Group) Resolver {
	var resolve Resolver
	resolve = func(parts []string) (Column, error) {
		switch len(parts) {
		case 1:
			name := parts[0]
			if c, ok := datasetField(name); ok {
				return c, nil
			}
			if g.Has(name) {
				e, _ := r.Universe.Element(name)
				return Column{SQL: "{" + name + "}", Kind: fieldKind(e.PrimaryKey())}, nil
			}
			// A bare field is accepted when exactly one element of the query has it.
			var found []string
			var col Column
			for _, e := range append(append([]*dimensions.Element(nil), g.Required...), g.Implied...) {
				if !e.HasTable() {
					continue
				}
				if c, ok := elementColumn(e, name, func(f string) string { return "{" + e.Name + "." + f + "}" }); ok {
					found = append(found, e.Name+"."+name)
					col = c
				}
			}
			if len(found) == 1 {
				return col, nil
			}
			if len(found) > 1 {
				sort.Strings(found)
				return Column{}, fmt.Errorf("%q is ambiguous: say which of %s", name, strings.Join(found, ", "))
			}
			known := g.Names()
			for _, e := range append(append([]*dimensions.Element(nil), g.Required...), g.Implied...) {
				if e.HasTable() {
					for _, f := range e.Metadata {
						known = append(known, f.Name)
					}
				}
			}
			return Column{}, fmt.Errorf("unknown name %q: not a dimension or field of %s%s", name, g, Closest(name, known))
		case 2, 3:
			if parts[0] == "timespan" && len(parts) == 2 {
				// timespan.begin: the begin of the one timespan of the query.
				c, err := resolve(parts[:1])
				if err != nil {
					return Column{}, err
				}
				return timespanBound(c, parts[1], "timespan")
			}
			if len(parts) == 3 {
				c, err := resolve(parts[:2])
				if err != nil {
					return Column{}, err
				}
				return timespanBound(c, parts[2], parts[0]+"."+parts[1])
			}
			e, ok := r.Universe.Element(parts[0])
			if ok && !g.Has(parts[0]) && e.HasTable() && !e.IsDimension() {
				// A combination element (visit_detector_region) whose dimensions
				// the query has.
				for _, d := range e.Dimensions() {
					ok = ok && g.Has(d.Name)
				}
				if ok {
					if c, found := elementColumn(e, parts[1], func(f string) string { return "{" + e.Name + "." + f + "}" }); found {
						return c, nil
					}
					return Column{}, fmt.Errorf("%s has no field %q%s", e.Name, parts[1], Closest(parts[1], elementFields(e)))
				}
			}
			if !ok || !g.Has(parts[0]) {
				return Column{}, fmt.Errorf("unknown element %q in %q: the query has %s", parts[0], strings.Join(parts, "."), strings.Join(g.Names(), ", "))
			}
			field := parts[1]
			if e.IsDimension() && field == e.PrimaryKey().Name {
				return Column{SQL: "{" + e.Name + "}", Kind: fieldKind(e.PrimaryKey())}, nil
			}
			// exposure.day_obs, exposure.physical_filter: a dimension the element
			// implies or requires is that dimension's value.
			for _, d := range append(append([]*dimensions.Element(nil), e.Required...), e.Implied...) {
				if d.Name == field && g.Has(field) {
					return Column{SQL: "{" + field + "}", Kind: fieldKind(d.PrimaryKey())}, nil
				}
			}
			if c, found := elementColumn(e, field, func(f string) string { return "{" + e.Name + "." + f + "}" }); found {
				return c, nil
			}
			return Column{}, fmt.Errorf("%s has no field %q%s", e.Name, field, Closest(field, elementFields(e)))
		}
		return Column{}, fmt.Errorf("unknown name %q", strings.Join(parts, "."))
	}
	return resolve
}

// recordResolver maps names in a where expression or order-by over one
// element's records onto its columns.
func (r *Registry) recordResolver(e *dimensions.Element) Resolver {
	db := r.db
	var resolve Resolver
	resolve = func(parts []string) (Column, error) {
		if len(parts) > 1 && parts[0] == e.Name {
			parts = parts[1:]
		}
		if len(parts) == 2 && parts[0] == "timespan" {
			c, err := resolve(parts[:1])
			if err != nil {
				return Column{}, err
			}
			return timespanBound(c, parts[1], e.Name+".timespan")
		}
		if len(parts) != 1 {
			return Column{}, fmt.Errorf("unknown name %q for %s records", strings.Join(parts, "."), e.Name)
		}
		if e.IsDimension() && parts[0] == e.Name {
			return Column{SQL: db.Q(e.PrimaryKey().Name), Kind: fieldKind(e.PrimaryKey())}, nil
		}
		if c, ok := elementColumn(e, parts[0], db.Q); ok {
			return c, nil
		}
		known := elementFields(e)
		for _, d := range append(append([]*dimensions.Element(nil), e.Required...), e.Implied...) {
			if d.Name == parts[0] {
				return Column{SQL: db.Q(d.Name), Kind: fieldKind(d.PrimaryKey())}, nil
			}
			known = append(known, d.Name)
		}
		return Column{}, fmt.Errorf("unknown name %q: %s records have no such field%s", parts[0], e.Name, Closest(parts[0], known))
	}
	return resolve
}

// Closest suggests the known names nearest to name (edit distance ≤ 2, or a
// shared prefix), for "unknown name" errors.
func Closest(name string, known []string) string {
	var near []string
	for _, k := range known {
		if k == name {
			continue // never suggest what was typed
		}
		if levenshtein(strings.ToLower(name), strings.ToLower(k)) <= 2 || (len(name) >= 3 && strings.HasPrefix(k, name[:3])) {
			near = append(near, k)
		}
	}
	if len(near) == 0 {
		return " (known: " + strings.Join(known, ", ") + ")"
	}
	return "; did you mean " + strings.Join(near, " or ") + "?"
}

// ClosestList returns the names near name, or all of them when none is.
func ClosestList(name string, names []string) []string {
	var near []string
	for _, k := range names {
		if levenshtein(strings.ToLower(name), strings.ToLower(k)) <= 2 {
			near = append(near, k)
		}
	}
	if len(near) > 0 {
		return near
	}
	return names
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// DatasetOrder resolves the order-by names ("-" prefix: descending) of a
// query for datasets of type t.
func (r *Registry) DatasetOrder(t dataset.Type, names []string) ([]OrderTerm, error) {
	return orderTerms(names, datasetTypeResolver(t, r.resolverFor(t.Dimensions)))
}

// ConstrainDatasets adds a where expression to q, a query for datasets of
// type t: over the type's dimensions and dataset fields, and over those of
// the elements it names that the type lacks, which are then related to the
// type's dimensions through their records.
func (r *Registry) ConstrainDatasets(q *DatasetQuery, t dataset.Type, ast query.Node, binds map[string]any) error {
	g := r.QueryGroup(t.Dimensions, ast, binds)
	w, err := r.Translate(ast, datasetTypeResolver(t, r.resolverFor(g)), binds)
	if err != nil {
		return err
	}
	if len(g.Required) > len(t.Dimensions.Required) {
		// The where names dimensions the type lacks: relate them.
		q.Extra = &ExtraDimensions{Group: g, Where: w.SQL, Args: w.Args}
		for _, f := range w.Refine {
			if e, ok := r.Universe.Element(f.Element); ok && coveredBy(e, t.Dimensions) {
				q.Refine = append(q.Refine, f)
			} else {
				q.Extra.Refine = append(q.Extra.Refine, f)
			}
		}
	} else {
		q.Where, q.Args, q.Refine = w.SQL, w.Args, w.Refine
	}
	return nil
}

// DataIDOrder resolves the order-by names of a data ID query over g.
func (r *Registry) DataIDOrder(g dimensions.Group, names []string) ([]OrderTerm, error) {
	return orderTerms(names, r.resolverFor(g))
}

// ConstrainDataIDs adds a where expression to q, a data ID query.
func (r *Registry) ConstrainDataIDs(q *DataIDQuery, ast query.Node, binds map[string]any) error {
	w, err := r.Translate(ast, r.resolverFor(q.Group), binds)
	if err != nil {
		return err
	}
	q.Where, q.Args, q.Refine = w.SQL, w.Args, w.Refine
	return nil
}
