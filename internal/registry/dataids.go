package registry

import (
	"context"
	"fmt"
	"strings"

	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry/sqldb"
)

// DataIDQuery selects the data IDs of a dimension group from the dimension
// records (each element's table joined on the dimensions they share).
type DataIDQuery struct {
	Group dimensions.Group
	Where string // translated where expression with {dimension}/{element.field} placeholders
	Args  []any
	Limit int
	// OrderBy replaces the default order (required dimensions).
	OrderBy []OrderTerm
	// Refine drops data IDs whose element region does not overlap the filter's.
	Refine []RegionFilter
}

// DataIDs streams the distinct data IDs (required and implied dimensions) of
// the group for which records exist, in required-dimension order.
func (r *Registry) DataIDs(ctx context.Context, q DataIDQuery, fn func(dimensions.DataID) error) error {
	if len(q.Group.Required) == 0 {
		return r.emptyDataID(ctx, q, fn)
	}
	from, colExpr, spatialPairs, err := r.dimensionJoin(q.Group, "j_")
	if err != nil {
		return err
	}
	names := q.Group.Names()
	sel := make([]string, len(names))
	for i, n := range names {
		c, ok := colExpr[n]
		if !ok {
			return fmt.Errorf("data IDs of %s: %w: no record gives %s", q.Group, errs.ErrUnsupported, n)
		}
		sel[i] = c
	}
	var where []string
	var args []any
	if q.Where != "" {
		var expanded string
		expanded, from = r.expandWhere(q.Where, colExpr, from)
		where = append(where, "("+expanded+")")
		args = append(args, q.Args...)
	}
	order := make([]string, len(q.Group.Required))
	for i, e := range q.Group.Required {
		order[i] = colExpr[e.Name]
	}
	if len(q.OrderBy) > 0 {
		// DISTINCT needs the order expressions in the select list (PostgreSQL).
		var exprs []string
		exprs, from = r.orderClause(q.OrderBy, colExpr, from)
		order = order[:0]
		for i, o := range q.OrderBy {
			sel = append(sel, exprs[i])
			order = append(order, exprs[i]+orderDir(o))
		}
	}
	var regionCols []string
	regionCols, from = r.regionColumns(q.Refine, colExpr, from)
	sel = append(sel, regionCols...)
	for _, p := range spatialPairs {
		var a, b string
		a, from = r.expandWhere("{"+p[0]+".region}", colExpr, from)
		b, from = r.expandWhere("{"+p[1]+".region}", colExpr, from)
		sel = append(sel, a, b)
	}
	nPair := 2 * len(spatialPairs)
	text := "SELECT DISTINCT " + strings.Join(sel, ", ") + " FROM " + from
	if len(where) > 0 {
		text += " WHERE " + strings.Join(where, " AND ")
	}
	if len(order) > 0 {
		text += " ORDER BY " + strings.Join(order, ", ")
	}
	if q.Limit > 0 && len(q.Refine) == 0 && nPair == 0 {
		text += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	returned := 0
	rows, err := r.db.Conn().Query(ctx, text, args...)
	if err != nil {
		return fmt.Errorf("query data IDs of %s: %w", q.Group, err)
	}
	defer rows.Close()
	for rows.Next() {
		vals := make([]any, len(sel))
		ptrs := make([]any, len(sel))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if len(q.Refine) > 0 || nPair > 0 {
			base := len(vals) - nPair - len(q.Refine)
			ok, err := regionsOverlap(q.Refine, vals[base:base+len(q.Refine)])
			if err != nil {
				return err
			}
			for i := 0; ok && i < nPair; i += 2 {
				ok, err = pairOverlaps(vals[len(vals)-nPair+i], vals[len(vals)-nPair+i+1])
				if err != nil {
					return err
				}
			}
			if !ok {
				continue
			}
			if q.Limit > 0 && returned >= q.Limit {
				return nil
			}
			returned++
		}
		id := dimensions.DataID{}
		for i, n := range names {
			v := vals[i]
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			if v == nil {
				continue
			}
			if r.Universe.MustElement(n).PrimaryKey().Type == "int" {
				v = toInt(v)
			}
			id[n] = v
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	return rows.Err()
}

// emptyDataID is DataIDs over no dimensions: the one empty data ID, when the
// where expression (which can name no dimension) holds.
func (r *Registry) emptyDataID(ctx context.Context, q DataIDQuery, fn func(dimensions.DataID) error) error {
	if q.Where == "" {
		return fn(dimensions.DataID{})
	}
	var one any
	err := r.db.Conn().QueryRow(ctx, "SELECT 1 WHERE ("+q.Where+")", q.Args...).Scan(&one)
	if sqldb.IsNoRows(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("query the empty data ID: %w", err)
	}
	return fn(dimensions.DataID{})
}

// spatialJoin relates the spatial families of a group that share no keys
// (visit and tract): for each pair, the most specific element of each family
// (visit_detector_region over visit, patch over tract) is joined through their
// common skypix overlap rows. It returns the pairs, whose regions the caller
// must test exactly (the pixels only say they may overlap).
func (r *Registry) spatialJoin(g dimensions.Group, colExpr map[string]string, from *string) [][2]string {
	sp := r.Universe.CommonSkyPix
	if sp == nil {
		return nil
	}
	best := map[string]*dimensions.Element{}
	var families []string
	for _, e := range r.Universe.Elements {
		if e.Spatial == "" || !e.HasTable() || e.SkyPixSystem != "" {
			continue
		}
		all := true
		for _, d := range e.Dimensions() {
			all = all && g.Has(d.Name) && colExpr[d.Name] != ""
		}
		if !all {
			continue
		}
		if cur, ok := best[e.Spatial]; !ok || len(e.Dimensions()) > len(cur.Dimensions()) {
			if !ok {
				families = append(families, e.Spatial)
			}
			best[e.Spatial] = e
		}
	}
	var pairs [][2]string
	for i := 0; i < len(families); i++ {
		for j := i + 1; j < len(families); j++ {
			a, b := best[families[i]], best[families[j]]
			n := len(pairs)
			oa, ob := fmt.Sprintf("sa%d", n), fmt.Sprintf("sb%d", n)
			on := func(alias string, e *dimensions.Element) []string {
				conds := []string{alias + ".skypix_system = '" + sp.SkyPixSystem + "'", alias + fmt.Sprintf(".skypix_level = %d", sp.SkyPixLevel)}
				for _, d := range e.Dimensions() {
					conds = append(conds, alias+"."+r.db.Q(d.Name)+" = "+colExpr[d.Name])
				}
				return conds
			}
			*from += " JOIN " + r.db.T(a.Name+"_skypix_overlap") + " " + oa + " ON " + strings.Join(on(oa, a), " AND ")
			*from += " JOIN " + r.db.T(b.Name+"_skypix_overlap") + " " + ob + " ON " + strings.Join(append(on(ob, b), ob+".skypix_index = "+oa+".skypix_index"), " AND ")
			pairs = append(pairs, [2]string{a.Name, b.Name})
		}
	}
	return pairs
}

// pairOverlaps tests two selected region columns (base64 text) exactly; a
// missing region does not overlap.
func pairOverlaps(a, b any) (bool, error) {
	ra, err := decodeRegion(a)
	if ra == nil || err != nil {
		return false, err
	}
	rb, err := decodeRegion(b)
	if rb == nil || err != nil {
		return false, err
	}
	return ra.Overlaps(rb), nil
}

// dimensionJoin builds the FROM clause relating a group's dimension records:
// each required element's table joined on the keys they share, always_join
// elements (visit_definition), the common-skypix overlap tables between
// spatial families (whose region pairs it returns for exact tests), and the
// implied elements' tables. Aliases start with prefix.
func (r *Registry) dimensionJoin(g dimensions.Group, prefix string) (string, map[string]string, [][2]string, error) {
	colExpr := map[string]string{}
	var from string
	joined := map[string]bool{}
	join := func(e *dimensions.Element) {
		alias := prefix + e.Name
		var on []string
		for _, d := range e.Dimensions() {
			key := d.Name
			if d == e {
				key = e.PrimaryKey().Name
			}
			if c, ok := colExpr[d.Name]; ok {
				on = append(on, alias+"."+r.db.Q(key)+" = "+c)
			}
		}
		switch {
		case from == "":
			from = r.db.T(e.Name) + " " + alias
		case len(on) == 0:
			from += " CROSS JOIN " + r.db.T(e.Name) + " " + alias
		default:
			from += " JOIN " + r.db.T(e.Name) + " " + alias + " ON " + strings.Join(on, " AND ")
		}
		joined[e.Name] = true
		for _, d := range e.Required {
			if _, ok := colExpr[d.Name]; !ok {
				colExpr[d.Name] = alias + "." + r.db.Q(d.Name)
			}
		}
		if e.IsDimension() {
			if _, ok := colExpr[e.Name]; !ok {
				colExpr[e.Name] = alias + "." + r.db.Q(e.PrimaryKey().Name)
			}
		}
		for _, d := range e.Implied {
			if _, ok := colExpr[d.Name]; !ok {
				colExpr[d.Name] = alias + "." + r.db.Q(d.Name)
			}
		}
	}
	for _, e := range g.Required {
		if !e.HasTable() {
			return "", nil, nil, fmt.Errorf("data IDs of %s: %w: dimension %s has no stored records (skypix and band data IDs come from other elements)", g, errs.ErrUnsupported, e.Name)
		}
		join(e)
	}
	// always_join elements (visit_definition) relate dimensions that share no
	// key: exposure and visit go through it whenever both are asked for.
	for _, e := range r.Universe.Elements {
		if !e.AlwaysJoin || !e.HasTable() || joined[e.Name] {
			continue
		}
		all := true
		for _, d := range e.Required {
			all = all && g.Has(d.Name)
		}
		if all {
			join(e)
		}
	}
	pairs := r.spatialJoin(g, colExpr, &from)
	// Implied dimensions with tables of their own (band comes from physical_filter).
	for progress := true; progress; {
		progress = false
		for _, e := range g.Implied {
			if joined[e.Name] || !e.HasTable() || colExpr[e.Name] == "" || len(e.Implied) == 0 {
				continue
			}
			join(e)
			progress = true
		}
	}
	return from, colExpr, pairs, nil
}
