package registry

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/query"
	"github.com/gobutler/butler/internal/registry/sqldb"
	"github.com/gobutler/butler/sphgeom"
	"github.com/google/uuid"
)

// Resolver maps an identifier of a where expression (its dotted parts) to a SQL
// column expression, or an error naming what is known.
type Resolver func(parts []string) (string, error)

// WhereError is a where expression the registry cannot turn into SQL.
type WhereError struct {
	Pos  query.Position
	Msg  string
	Expr string
}

func (e *WhereError) Error() string {
	return fmt.Sprintf("where %d:%d: %s", e.Pos.Line, e.Pos.Col, e.Msg)
}
func (e *WhereError) Is(target error) bool { return target == errs.ErrInvalid }

// TranslateWhere turns a parsed where expression into a SQL condition with '?'
// placeholders and their values. Region overlaps need Registry.Translate.
func TranslateWhere(n query.Node, resolve Resolver, binds map[string]any) (string, []any, error) {
	tr := &translator{resolve: resolve, binds: binds}
	s, err := tr.expr(n)
	return s, tr.args, err
}

// Where is a translated where expression.
type Where struct {
	SQL  string
	Args []any
	// Refine lists region tests the rows must also pass: the SQL only keeps
	// rows whose element has a common-skypix pixel in the literal region's
	// envelope, a superset of the true overlaps.
	Refine []RegionFilter
}

// RegionFilter keeps rows whose element region overlaps Region.
type RegionFilter struct {
	Element string
	Region  sphgeom.Region
}

// Translate is TranslateWhere with region overlaps: "visit.region OVERLAPS
// CIRCLE(ra, dec, r)" becomes a join condition on the element's skypix overlap
// rows plus, when it is ANDed at the top level, an exact test of each row.
func (r *Registry) Translate(n query.Node, resolve Resolver, binds map[string]any) (Where, error) {
	tr := &translator{resolve: resolve, binds: binds, reg: r, top: true}
	s, err := tr.expr(n)
	return Where{SQL: s, Args: tr.args, Refine: tr.refine}, err
}

type translator struct {
	resolve Resolver
	binds   map[string]any
	args    []any
	reg     *Registry
	top     bool // the node is reached from the root through ANDs only
	refine  []RegionFilter
}

func (t *translator) errAt(n query.Node, format string, a ...any) error {
	return &WhereError{Pos: n.Pos(), Msg: fmt.Sprintf(format, a...)}
}

func (t *translator) value(v any) string {
	t.args = append(t.args, v)
	return "?"
}

func (t *translator) expr(n query.Node) (string, error) {
	switch x := n.(type) {
	case *query.Ident:
		if len(x.Parts) == 1 {
			if v, ok := t.binds[x.Parts[0]]; ok {
				return t.value(v), nil
			}
			if strings.EqualFold(x.Parts[0], "NULL") {
				return "NULL", nil
			}
		}
		col, err := t.resolve(x.Parts)
		if err != nil {
			return "", t.errAt(n, "%v", err)
		}
		return col, nil
	case *query.Bind:
		v, ok := t.binds[x.Name]
		if !ok {
			return "", t.errAt(n, "no value bound to :%s (use --bind %s=VALUE)", x.Name, x.Name)
		}
		return t.value(v), nil
	case *query.StringLit:
		return t.value(x.Value), nil
	case *query.IntLit:
		return t.value(x.Value), nil
	case *query.FloatLit:
		return t.value(x.Value), nil
	case *query.TimeLit:
		return t.value(x.TAI), nil
	case *query.UUIDLit:
		return t.value(fmt.Sprintf("%x", x.Value[:])), nil
	case *query.Unary:
		top := t.top
		t.top = false
		s, err := t.expr(x.X)
		t.top = top
		if err != nil {
			return "", err
		}
		if x.Op == "NOT" {
			return "(NOT " + s + ")", nil
		}
		return "(" + x.Op + s + ")", nil
	case *query.Binary:
		if x.Op == "OVERLAPS" {
			if s, ok, err := t.regionOverlaps(x); ok || err != nil {
				return s, err
			}
			return t.overlaps(x)
		}
		top := t.top
		t.top = top && x.Op == "AND"
		l, err := t.expr(x.X)
		if err != nil {
			return "", err
		}
		r, err := t.expr(x.Y)
		t.top = top
		if err != nil {
			return "", err
		}
		op := x.Op
		if op == "!=" {
			op = "<>"
		}
		if r == "NULL" && (op == "=" || op == "<>") {
			if op == "=" {
				return "(" + l + " IS NULL)", nil
			}
			return "(" + l + " IS NOT NULL)", nil
		}
		return "(" + l + " " + op + " " + r + ")", nil
	case *query.In:
		l, err := t.expr(x.X)
		if err != nil {
			return "", err
		}
		var parts []string
		var plain []string
		for _, it := range x.Items {
			if rg, ok := it.(*query.RangeLit); ok {
				c := "(" + l + " BETWEEN " + t.value(rg.Start) + " AND " + t.value(rg.Stop)
				if rg.Stride > 1 {
					c += " AND (" + l + " - " + t.value(rg.Start) + ") % " + t.value(rg.Stride) + " = 0"
				}
				parts = append(parts, c+")")
				continue
			}
			s, err := t.expr(it)
			if err != nil {
				return "", err
			}
			plain = append(plain, s)
		}
		if len(plain) > 0 {
			parts = append(parts, l+" IN ("+strings.Join(plain, ", ")+")")
		}
		s := "(" + strings.Join(parts, " OR ") + ")"
		if x.Not {
			s = "(NOT " + s + ")"
		}
		return s, nil
	case *query.Call:
		if x.Name == "GLOB" && len(x.Args) == 2 {
			l, err := t.expr(x.Args[0])
			if err != nil {
				return "", err
			}
			// The pattern is bound as a GlobPattern so that each dialect gets
			// its own form (PostgreSQL has no GLOB).
			pattern, ok := t.stringValue(x.Args[1])
			if !ok {
				return "", t.errAt(x.Args[1], "GLOB needs a string pattern (a literal or a bound value)")
			}
			return sqldb.GlobMatch(l, t.value(sqldb.GlobPattern(pattern))), nil
		}
		return "", &WhereError{Pos: x.Pos(), Msg: fmt.Sprintf("%s(...) is a region: use it with OVERLAPS, e.g. visit.region OVERLAPS %s(...)", x.Name, x.Name)}
	}
	return "", t.errAt(n, "this expression (%s) cannot be used here", n)
}

// stringValue is the value of a string literal or a name bound to a string.
func (t *translator) stringValue(n query.Node) (string, bool) {
	switch x := n.(type) {
	case *query.StringLit:
		return x.Value, true
	case *query.Bind:
		v, ok := t.binds[x.Name].(string)
		return v, ok
	case *query.Ident:
		if len(x.Parts) == 1 {
			v, ok := t.binds[x.Parts[0]].(string)
			return v, ok
		}
	}
	return "", false
}

// overlaps handles TIMESPAN OVERLAPS (T1, T2) and TIMESPAN OVERLAPS T, where
// TIMESPAN is element.timespan.
func (t *translator) overlaps(x *query.Binary) (string, error) {
	id, ok := x.X.(*query.Ident)
	other := x.Y
	if !ok {
		id, ok = x.Y.(*query.Ident)
		other = x.X
	}
	if !ok || len(id.Parts) != 2 || id.Parts[1] != "timespan" {
		return "", t.errAt(x, "OVERLAPS needs element.timespan on one side")
	}
	begin, err := t.resolve([]string{id.Parts[0], "timespan", "begin"})
	if err != nil {
		return "", t.errAt(id, "%v", err)
	}
	end, _ := t.resolve([]string{id.Parts[0], "timespan", "end"})
	var lo, hi string
	switch o := other.(type) {
	case *query.Tuple:
		if lo, err = t.expr(o.Items[0]); err != nil {
			return "", err
		}
		if hi, err = t.expr(o.Items[1]); err != nil {
			return "", err
		}
	case *query.TimeLit:
		lo = t.value(o.TAI)
		hi = t.value(o.TAI + 1)
	default:
		return "", t.errAt(other, "OVERLAPS needs a time or a (begin, end) pair")
	}
	if lo == "NULL" {
		lo = "0"
	}
	if hi == "NULL" {
		hi = "4102444800000000000"
	}
	return "(" + end + " > " + lo + " AND " + begin + " < " + hi + ")", nil
}

var _ = uuid.Nil

// regionOverlaps translates ELEMENT.region OVERLAPS REGION (either order); ok
// is false when neither side is a region column.
func (t *translator) regionOverlaps(x *query.Binary) (string, bool, error) {
	elem, other := regionColumn(x.X), x.Y
	if elem == "" {
		elem, other = regionColumn(x.Y), x.X
	}
	if elem == "" {
		if isRegionExpr(x.X) || isRegionExpr(x.Y) {
			for _, side := range []query.Node{x.X, x.Y} {
				if id, ok := side.(*query.Ident); ok {
					if _, err := t.resolve(id.Parts); err != nil {
						return "", true, t.errAt(id, "%v", err) // a misspelt field says which ones exist
					}
				}
			}
			return "", true, t.errAt(x, "OVERLAPS with a region needs ELEMENT.region on the other side (e.g. visit.region, patch.region)")
		}
		return "", false, nil
	}
	col, err := t.resolve([]string{elem, "region"})
	if err != nil {
		return "", true, t.errAt(x, "%v", err)
	}
	if t.reg == nil {
		return "", true, t.errAt(x, "region overlaps are not supported here")
	}
	region, err := t.regionValue(other)
	if err != nil {
		return "", true, err
	}
	e, ok := t.reg.Universe.Element(elem)
	if !ok || e.Spatial == "" || !e.HasTable() || t.reg.Universe.CommonSkyPix == nil {
		return "", true, t.errAt(x, "%s has no stored region", elem)
	}
	sp := t.reg.Universe.CommonSkyPix
	htm, err := sphgeom.NewHtm(sp.SkyPixLevel)
	if err != nil {
		return "", true, err
	}
	ranges := htm.Envelope(region, 0).Ranges()
	if len(ranges) == 0 {
		return "(1 = 0)", true, nil
	}
	// Placeholders are positional: values are added in text order.
	head := "EXISTS (SELECT 1 FROM " + t.reg.db.T(e.Name+"_skypix_overlap") + " o WHERE o.skypix_system = " + t.value(sp.SkyPixSystem) +
		" AND o.skypix_level = " + t.value(int64(sp.SkyPixLevel))
	var conds []string
	for _, d := range e.Dimensions() {
		conds = append(conds, "o."+t.reg.db.Q(d.Name)+" = {"+d.Name+"}")
	}
	var pix []string
	for _, rg := range ranges {
		if rg.End-rg.Begin == 1 {
			pix = append(pix, "o.skypix_index = "+t.value(int64(rg.Begin)))
		} else {
			pix = append(pix, "o.skypix_index BETWEEN "+t.value(int64(rg.Begin))+" AND "+t.value(int64(rg.End-1)))
		}
	}
	sqlText := head + " AND " + strings.Join(conds, " AND ") + " AND (" + strings.Join(pix, " OR ") + "))"
	if t.top {
		t.refine = append(t.refine, RegionFilter{Element: e.Name, Region: region})
	}
	_ = col
	return sqlText, true, nil
}

// regionColumn is the element of an ELEMENT.region identifier ("" otherwise).
func regionColumn(n query.Node) string {
	if id, ok := n.(*query.Ident); ok && len(id.Parts) == 2 && id.Parts[1] == "region" {
		return id.Parts[0]
	}
	return ""
}

func isRegionExpr(n query.Node) bool {
	c, ok := n.(*query.Call)
	return ok && c.Name != "GLOB"
}

// regionValue evaluates a region literal (POINT, CIRCLE, BOX, POLYGON, REGION)
// or a bound region (a sphgeom.Region, its encoding, or an IVOA POS string).
func (t *translator) regionValue(n query.Node) (sphgeom.Region, error) {
	switch x := n.(type) {
	case *query.Call:
		if x.Name == "REGION" {
			s, ok := t.stringValue(x.Args[0])
			if !ok {
				return nil, t.errAt(x.Args[0], "REGION needs an IVOA POS string (a literal or a bound string)")
			}
			reg, err := sphgeom.ParsePOS(s)
			if err != nil {
				return nil, t.errAt(x.Args[0], "%v", err)
			}
			return reg, nil
		}
		nums := make([]float64, len(x.Args))
		for i, a := range x.Args {
			v, ok := t.number(a)
			if !ok {
				return nil, t.errAt(a, "%s arguments must be numbers (degrees) or bound numbers", x.Name)
			}
			nums[i] = v
		}
		var reg sphgeom.Region
		var err error
		switch x.Name {
		case "POINT":
			reg, err = sphgeom.Point(nums[0], nums[1])
		case "CIRCLE":
			// daf_butler's CIRCLE(ra, dec, r) makes a circle of opening angle
			// 2r (a long-standing quirk); we match it so queries agree.
			reg, err = sphgeom.NewCircleDeg(nums[0], nums[1], 2*nums[2])
		case "BOX":
			reg, err = sphgeom.NewBoxDeg(nums[0], nums[1], nums[2], nums[3])
		case "POLYGON":
			reg, err = sphgeom.NewPolygonDeg(nums...)
		default:
			return nil, t.errAt(x, "%s is not a region function", x.Name)
		}
		if err != nil {
			return nil, t.errAt(x, "%s: %v", x.Name, err)
		}
		return reg, nil
	case *query.Bind, *query.Ident:
		name := ""
		if b, ok := x.(*query.Bind); ok {
			name = b.Name
		} else if id := x.(*query.Ident); len(id.Parts) == 1 {
			name = id.Parts[0]
		}
		switch v := t.binds[name].(type) {
		case sphgeom.Region:
			return v, nil
		case []byte:
			reg, err := sphgeom.Decode(v)
			if err != nil {
				return nil, t.errAt(n, "bound region :%s: %v", name, err)
			}
			return reg, nil
		case string:
			reg, err := sphgeom.ParsePOS(v)
			if err != nil {
				return nil, t.errAt(n, "bound region :%s: %v", name, err)
			}
			return reg, nil
		case nil:
			return nil, t.errAt(n, "no region bound to :%s", name)
		}
		return nil, t.errAt(n, "value bound to :%s is not a region", name)
	}
	return nil, t.errAt(n, "OVERLAPS needs a region here: POINT, CIRCLE, BOX, POLYGON, REGION or a bound region")
}

// number evaluates a numeric literal, a negated one, or a bound number.
func (t *translator) number(n query.Node) (float64, bool) {
	switch x := n.(type) {
	case *query.IntLit:
		return float64(x.Value), true
	case *query.FloatLit:
		return x.Value, true
	case *query.Unary:
		v, ok := t.number(x.X)
		if x.Op == "-" {
			v = -v
		}
		return v, ok && (x.Op == "-" || x.Op == "+")
	case *query.Bind:
		switch v := t.binds[x.Name].(type) {
		case float64:
			return v, true
		case int:
			return float64(v), true
		case int64:
			return float64(v), true
		case string:
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}
