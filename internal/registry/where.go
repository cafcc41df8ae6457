package registry

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/query"
	"github.com/gobutler/butler/internal/registry/sqldb"
	"github.com/gobutler/butler/sphgeom"
	"github.com/gobutler/butler/timespan"
	"github.com/google/uuid"
)

// Kind is the type of a where-expression value, named as daf_butler names its
// column types (int, float, string, bool, datetime, timespan, region, uuid,
// hash). The translator checks operands against upstream's rules; KindUnknown
// (a bound value of a type it does not know) is never checked.
type Kind string

const (
	KindUnknown  Kind = ""
	KindInt      Kind = "int"
	KindFloat    Kind = "float"
	KindString   Kind = "string"
	KindBool     Kind = "bool"
	KindTime     Kind = "datetime"
	KindTimespan Kind = "timespan"
	KindRegion   Kind = "region"
	KindUUID     Kind = "uuid"
	KindNull     Kind = "null"
)

// Column is what an identifier names: a SQL expression and its kind. A
// timespan has Begin and End (TAI nanoseconds; SQL is unused); a region names
// its Element (regions are tested through the skypix overlap tables).
type Column struct {
	SQL        string
	Kind       Kind
	Begin, End string
	Element    string
}

// Resolver maps an identifier of a where expression (its dotted parts) to a
// column, or an error naming what is known.
type Resolver func(parts []string) (Column, error)

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
	return tr.condition(n)
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
	s, args, err := tr.condition(n)
	return Where{SQL: s, Args: args, Refine: tr.refine}, err
}

type translator struct {
	resolve Resolver
	binds   map[string]any
	vals    []any // bound values, by marker number
	reg     *Registry
	top     bool // the node is reached from the root through ANDs only
	refine  []RegionFilter
}

// val is a translated sub-expression: SQL text (for a timespan, its two
// bounds) and its kind.
type val struct {
	sql        string
	kind       Kind
	begin, end string
	list       []val // a bound list, valid only as an IN item
	// lit marks a value with no column in it (literals, binds and their
	// arithmetic): PostgreSQL cannot type a parameter compared with another
	// parameter, so two of them meeting are cast (see typedLiterals).
	lit bool
}

func (t *translator) errAt(n query.Node, format string, a ...any) error {
	return &WhereError{Pos: n.Pos(), Msg: fmt.Sprintf(format, a...)}
}

// value binds v: it returns a marker that finish turns into a '?' placeholder,
// so that a value may appear more than once and in any order in the SQL.
func (t *translator) value(v any) string {
	t.vals = append(t.vals, v)
	return "\x01" + strconv.Itoa(len(t.vals)-1) + "\x01"
}

// finish replaces the value markers of s by '?' placeholders and lists their
// values in text order.
func (t *translator) finish(s string) (string, []any) {
	var b strings.Builder
	var args []any
	for {
		i := strings.IndexByte(s, 1)
		if i < 0 {
			b.WriteString(s)
			return b.String(), args
		}
		j := strings.IndexByte(s[i+1:], 1) + i + 1
		n, _ := strconv.Atoi(s[i+1 : j])
		b.WriteString(s[:i] + "?")
		args = append(args, t.vals[n])
		s = s[j+1:]
	}
}

// condition translates the whole expression, which must be a condition, into
// SQL with '?' placeholders and their values.
func (t *translator) condition(n query.Node) (string, []any, error) {
	v, err := t.expr(n)
	if err != nil {
		return "", nil, err
	}
	if v.kind != KindBool && v.kind != KindUnknown {
		return "", nil, t.errAt(n, "the expression %s is a %s, not a condition (compare it with something, e.g. %s = ...)", show(n), v.kind, show(n))
	}
	s, args := t.finish(v.sql)
	return s, args, nil
}

// show renders n for a message as it was written: times keep their text.
func show(n query.Node) string {
	s := query.Format(n)
	query.Walk(n, func(c query.Node) bool {
		if tl, ok := c.(*query.TimeLit); ok {
			s = strings.Replace(s, tl.String(), "T'"+tl.Text+"'", 1)
		}
		return true
	})
	return s
}

func numeric(k Kind) bool { return k == KindInt || k == KindFloat }

// bindValue is the value bound to name as a translated operand.
func (t *translator) bindValue(n query.Node, name string, v any) (val, error) {
	switch x := v.(type) {
	case nil:
		return val{sql: "NULL", kind: KindNull}, nil
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return val{sql: t.value(v), kind: KindInt}, nil
	case float32, float64:
		return val{sql: t.value(v), kind: KindFloat}, nil
	case string:
		return val{sql: t.value(v), kind: KindString}, nil
	case bool:
		return val{sql: t.value(v), kind: KindBool}, nil
	case time.Time:
		return val{sql: t.value(timespan.FromUTC(x)), kind: KindTime}, nil
	case timespan.Timespan:
		return val{kind: KindTimespan, begin: t.value(x.Begin), end: t.value(x.End)}, nil
	case uuid.UUID:
		return val{sql: t.value(fmt.Sprintf("%x", x[:])), kind: KindUUID}, nil
	case [16]byte:
		return val{sql: t.value(fmt.Sprintf("%x", x[:])), kind: KindUUID}, nil
	case sphgeom.Region:
		return val{kind: KindRegion}, nil
	case []byte:
		return val{sql: t.value(v), kind: KindUnknown}, nil
	}
	rv := reflect.ValueOf(v)
	if k := rv.Kind(); k == reflect.Slice || k == reflect.Array {
		out := val{kind: KindUnknown, list: []val{}}
		for i := 0; i < rv.Len(); i++ {
			item, err := t.bindValue(n, name, rv.Index(i).Interface())
			if err != nil {
				return val{}, err
			}
			if item.list != nil {
				return val{}, t.errAt(n, "the list bound to %s holds a list", name)
			}
			if i > 0 && item.kind != out.list[0].kind && !(numeric(item.kind) && numeric(out.list[0].kind)) {
				return val{}, t.errAt(n, "the list bound to %s mixes %s and %s values", name, out.list[0].kind, item.kind)
			}
			out.list = append(out.list, item)
		}
		return out, nil
	}
	return val{sql: t.value(v), kind: KindUnknown}, nil
}

func (t *translator) expr(n query.Node) (val, error) {
	switch x := n.(type) {
	case *query.Ident:
		if len(x.Parts) == 1 {
			if v, ok := t.binds[x.Parts[0]]; ok {
				return t.bindValue(n, x.Parts[0], v)
			}
			if x.IsNull() {
				return val{sql: "NULL", kind: KindNull}, nil
			}
		}
		col, err := t.resolve(x.Parts)
		if err != nil {
			return val{}, t.errAt(n, "%v", err)
		}
		switch col.Kind {
		case KindTimespan:
			return val{kind: KindTimespan, begin: col.Begin, end: col.End}, nil
		case KindRegion:
			return val{sql: col.SQL, kind: KindRegion}, nil
		}
		return val{sql: col.SQL, kind: col.Kind}, nil
	case *query.Bind:
		v, ok := t.binds[x.Name]
		if !ok {
			return val{}, t.errAt(n, "no value bound to :%s (use --bind %s=VALUE)", x.Name, x.Name)
		}
		bv, err := t.bindValue(n, ":"+x.Name, v)
		bv.lit = bv.list == nil
		return bv, err
	case *query.StringLit:
		return val{sql: t.value(x.Value), kind: KindString, lit: true}, nil
	case *query.IntLit:
		return val{sql: t.value(x.Value), kind: KindInt, lit: true}, nil
	case *query.FloatLit:
		return val{sql: t.value(x.Value), kind: KindFloat, lit: true}, nil
	case *query.TimeLit:
		return val{sql: t.value(x.TAI), kind: KindTime, lit: true}, nil
	case *query.UUIDLit:
		return val{sql: t.value(fmt.Sprintf("%x", x.Value[:])), kind: KindUUID}, nil
	case *query.RangeLit:
		return val{}, t.errAt(n, "a range (%s) is only meaningful in an IN list, e.g. detector IN (%s)", show(n), show(n))
	case *query.Tuple:
		return t.timespanLiteral(x)
	case *query.Unary:
		top := t.top
		t.top = false
		v, err := t.expr(x.X)
		t.top = top
		if err != nil {
			return val{}, err
		}
		switch {
		case x.Op == "NOT" && (v.kind == KindBool || v.kind == KindUnknown):
			return val{sql: "(NOT " + v.sql + ")", kind: KindBool}, nil
		case x.Op != "NOT" && (numeric(v.kind) || v.kind == KindUnknown):
			return val{sql: "(" + x.Op + v.sql + ")", kind: v.kind, lit: v.lit}, nil
		}
		return val{}, t.errAt(n, "unary operator %s is not valid for an operand of type %s in %s", x.Op, v.kind, show(n))
	case *query.Binary:
		return t.binary(x)
	case *query.In:
		return t.in(x)
	case *query.Call:
		if x.Name == "GLOB" && len(x.Args) == 2 {
			l, err := t.expr(x.Args[0])
			if err != nil {
				return val{}, err
			}
			if _, isIdent := x.Args[0].(*query.Ident); !isIdent || (l.kind != KindString && l.kind != KindUnknown) {
				return val{}, t.errAt(x.Args[0], "GLOB's first argument must be a string column, not %s (%s)", show(x.Args[0]), kindName(l.kind))
			}
			// The pattern is bound as a GlobPattern so that each dialect gets
			// its own form (PostgreSQL has no GLOB).
			pattern, ok := t.stringValue(x.Args[1])
			if !ok {
				return val{}, t.errAt(x.Args[1], "GLOB needs a string pattern (a literal or a bound value)")
			}
			return val{sql: sqldb.GlobMatch(l.sql, t.value(sqldb.GlobPattern(pattern))), kind: KindBool}, nil
		}
		return val{}, &WhereError{Pos: x.Pos(), Msg: fmt.Sprintf("%s(...) is a region: use it with OVERLAPS, e.g. visit.region OVERLAPS %s(...)", x.Name, x.Name)}
	}
	return val{}, t.errAt(n, "this expression (%s) cannot be used here", n)
}

func kindName(k Kind) string {
	if k == KindUnknown {
		return "a value of unknown type"
	}
	return string(k)
}

// timespanLiteral is (begin, end): two times, either of them NULL (unbounded).
func (t *translator) timespanLiteral(x *query.Tuple) (val, error) {
	if len(x.Items) != 2 {
		return val{}, t.errAt(x, "a timespan needs exactly two items (begin, end), not %d", len(x.Items))
	}
	var bounds [2]string
	for i, it := range x.Items {
		v, err := t.expr(it)
		if err != nil {
			return val{}, err
		}
		switch v.kind {
		case KindTime, KindUnknown:
			bounds[i] = v.sql
		case KindNull:
			bounds[i] = t.value([]int64{timespan.Min, timespan.Max}[i])
		default:
			return val{}, t.errAt(it, "invalid type %s in timespan (begin, end): each end must be a time such as T'2025-01-01T00:00:00' or NULL (times need the T prefix)", v.kind)
		}
	}
	b, bok := x.Items[0].(*query.TimeLit)
	e, eok := x.Items[1].(*query.TimeLit)
	if bok && eok && b.TAI >= e.TAI {
		// An empty timespan overlaps nothing.
		return val{kind: KindTimespan, begin: t.value(timespan.Max), end: t.value(timespan.Min)}, nil
	}
	return val{kind: KindTimespan, begin: bounds[0], end: bounds[1]}, nil
}

var comparisons = map[string]bool{"=": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true}

func (t *translator) binary(x *query.Binary) (val, error) {
	if x.Op == "OVERLAPS" {
		if s, ok, err := t.regionOverlaps(x); ok || err != nil {
			return val{sql: s, kind: KindBool}, err
		}
	}
	top := t.top
	t.top = top && x.Op == "AND"
	l, err := t.expr(x.X)
	if err != nil {
		t.top = top
		return val{}, err
	}
	r, err := t.expr(x.Y)
	t.top = top
	if err != nil {
		return val{}, err
	}
	if l.list != nil || r.list != nil {
		return val{}, t.errAt(x, "a bound list can only be used in an IN list, e.g. visit IN (:list)")
	}
	bad := func() (val, error) {
		return val{}, t.errAt(x, "invalid types %s, %s for operator %s in %s", l.kind, r.kind, x.Op, show(x))
	}
	l, r = typedLiterals(l, r)
	switch op := x.Op; {
	case op == "AND" || op == "OR":
		if (l.kind != KindBool && l.kind != KindUnknown) || (r.kind != KindBool && r.kind != KindUnknown) {
			return bad()
		}
		return val{sql: "(" + l.sql + " " + op + " " + r.sql + ")", kind: KindBool}, nil
	case op == "OVERLAPS":
		return t.timeOverlaps(x, l, r)
	case comparisons[op]:
		return t.compare(x, l, r)
	default: // + - * / %
		unknown := l.kind == KindUnknown || r.kind == KindUnknown
		if !(numeric(l.kind) || l.kind == KindUnknown) || !(numeric(r.kind) || r.kind == KindUnknown) || (op == "%" && !unknown && (l.kind != KindInt || r.kind != KindInt)) {
			return bad()
		}
		k := KindInt
		switch {
		case unknown:
			k = KindUnknown
		case l.kind == KindFloat || r.kind == KindFloat:
			k = KindFloat
		}
		return val{sql: "(" + l.sql + " " + op + " " + r.sql + ")", kind: k, lit: l.lit && r.lit}, nil
	}
}

// typedLiterals casts both sides when neither holds a column: a column gives
// PostgreSQL the type of the parameter it meets, two parameters give it none
// ("operator is not unique: unknown * unknown"). The casts are the same on
// SQLite, where they are harmless.
func typedLiterals(l, r val) (val, val) {
	if !l.lit || !r.lit {
		return l, r
	}
	cast := func(v val) val {
		switch v.kind {
		case KindInt, KindTime: // times are TAI nanoseconds
			v.sql = "CAST(" + v.sql + " AS BIGINT)"
		case KindFloat:
			v.sql = "CAST(" + v.sql + " AS DOUBLE PRECISION)"
		case KindString:
			v.sql = "CAST(" + v.sql + " AS TEXT)"
		}
		return v
	}
	return cast(l), cast(r)
}

// compare translates X op Y for the six comparison operators, with
// daf_butler's type rules: numbers with numbers, like with like, < <= > >=
// only for numbers, strings and times, NULL only with = and !=.
func (t *translator) compare(x *query.Binary, l, r val) (val, error) {
	op := x.Op
	sqlOp := op
	if op == "!=" {
		sqlOp = "<>"
	}
	// NULL: = NULL and != NULL test for a missing value.
	if l.kind == KindNull || r.kind == KindNull {
		other := l
		if l.kind == KindNull {
			other = r
		}
		if (op != "=" && op != "!=") || other.kind == KindNull {
			return val{}, t.errAt(x, "invalid types %s, %s for operator %s in %s: NULL can only be tested with = NULL or != NULL", l.kind, r.kind, op, show(x))
		}
		s := other.sql
		if other.kind == KindTimespan {
			s = other.begin
		}
		if op == "=" {
			return val{sql: "(" + s + " IS NULL)", kind: KindBool}, nil
		}
		return val{sql: "(" + s + " IS NOT NULL)", kind: KindBool}, nil
	}
	plain := func() (val, error) {
		return val{sql: "(" + l.sql + " " + sqlOp + " " + r.sql + ")", kind: KindBool}, nil
	}
	text := show(x)
	switch {
	case l.kind == KindTimespan || r.kind == KindTimespan:
		other, name := r, "ELEMENT.timespan"
		if id, ok := x.X.(*query.Ident); ok && l.kind == KindTimespan {
			name = id.Name()
		}
		if l.kind != KindTimespan {
			other = l
			if id, ok := x.Y.(*query.Ident); ok {
				name = id.Name()
			}
		}
		if (op == "<" || op == ">") && timeLike(l.kind) && timeLike(r.kind) {
			return t.timeBefore(x, l, r)
		}
		hint := fmt.Sprintf("use < or > (all of it before or after), compare one end (%s.end <= T'…', %s.begin >= T'…'), or use %s OVERLAPS T'…' or OVERLAPS (T'…', T'…')", name, name, name)
		if op == "=" || op == "!=" {
			if other.kind == KindTimespan {
				return val{}, t.errAt(x, "timespans cannot be compared with %s in %s: %s", op, text, hint)
			}
		}
		if other.kind == KindTimespan {
			return val{}, t.errAt(x, "invalid column type timespan for operator %s in %s: %s", op, text, hint)
		}
		return val{}, t.errAt(x, "column types for comparison %s do not agree (%s, %s): %s", text, l.kind, r.kind, hint)
	case l.kind == KindRegion || r.kind == KindRegion:
		return val{}, t.errAt(x, "a region can only be used with OVERLAPS (e.g. visit.region OVERLAPS POINT(ra, dec)), not with %s in %s", op, text)
	case l.kind == KindBool || r.kind == KindBool:
		return val{}, t.errAt(x, "invalid types %s, %s for operator %s in %s: a boolean field is a condition by itself (write exposure.can_see_sky or NOT exposure.can_see_sky)", l.kind, r.kind, op, text)
	case l.kind == KindUnknown || r.kind == KindUnknown:
		return plain()
	case numeric(l.kind) && numeric(r.kind):
		return plain()
	case l.kind != r.kind:
		hint := ""
		if (l.kind == KindTime && r.kind == KindString) || (l.kind == KindString && r.kind == KindTime) {
			hint = ": a time is written with a T prefix, e.g. T'2025-12-03T08:00:00'"
		}
		return val{}, t.errAt(x, "column types for comparison %s do not agree (%s, %s)%s", text, l.kind, r.kind, hint)
	case op == "=" || op == "!=":
		return plain()
	case l.kind == KindString || l.kind == KindTime:
		return plain()
	}
	return val{}, t.errAt(x, "invalid column type %s for operator %s in %s (only = and != apply)", l.kind, op, text)
}

// timeLike is true of the kinds < and > order in time: timespans, times, and
// values of unknown kind (which are bound as times there).
func timeLike(k Kind) bool {
	return k == KindTimespan || k == KindTime || k == KindUnknown
}

// timeBefore translates A < B and A > B where one side is a timespan and the
// other a timespan or a time: the whole of one lies before the other, as the
// daf_butler query language had it before its 2025 rewrite (w.2023.51 still
// does); current upstream refuses these, and this butler deliberately keeps
// them. Ends are exclusive, so a span that ends at t lies before t.
func (t *translator) timeBefore(x *query.Binary, l, r val) (val, error) {
	if x.Op == ">" {
		l, r = r, l
	}
	var sql string
	switch {
	case l.kind == KindTimespan && r.kind == KindTimespan:
		sql = l.end + " <= " + r.begin
	case l.kind == KindTimespan:
		sql = l.end + " <= " + r.sql
	default:
		sql = l.sql + " < " + r.begin
	}
	return val{sql: "(" + sql + ")", kind: KindBool}, nil
}

// timeOverlaps is A OVERLAPS B for timespans (a column, a bound timespan or a
// (begin, end) literal), or a timespan and a time (the time lies in it).
func (t *translator) timeOverlaps(x *query.Binary, l, r val) (val, error) {
	switch {
	case l.kind == KindTimespan && r.kind == KindTimespan:
		return val{sql: "(" + l.end + " > " + r.begin + " AND " + r.end + " > " + l.begin + ")", kind: KindBool}, nil
	case l.kind == KindTimespan && (r.kind == KindTime || r.kind == KindUnknown):
		return val{sql: "(" + l.begin + " <= " + r.sql + " AND " + l.end + " > " + r.sql + ")", kind: KindBool}, nil
	case r.kind == KindTimespan && (l.kind == KindTime || l.kind == KindUnknown):
		return val{sql: "(" + r.begin + " <= " + l.sql + " AND " + r.end + " > " + l.sql + ")", kind: KindBool}, nil
	}
	return val{}, t.errAt(x, "invalid types %s, %s for OVERLAPS in %s: OVERLAPS needs two timespans (ELEMENT.timespan, (T'…', T'…')), a timespan and a time, or a region and a region", l.kind, r.kind, show(x))
}

// in translates X [NOT] IN (items): literals, ranges (integers only), bound
// values and lists, of the member's type.
func (t *translator) in(x *query.In) (val, error) {
	l, err := t.expr(x.X)
	if err != nil {
		return val{}, err
	}
	if l.kind == KindTimespan || l.kind == KindRegion || l.kind == KindBool || l.list != nil {
		return val{}, t.errAt(x, "%s (%s) may not be used in IN expressions", show(x.X), kindName(l.kind))
	}
	agree := func(k Kind) bool {
		return k == l.kind || k == KindUnknown || l.kind == KindUnknown || (numeric(k) && numeric(l.kind))
	}
	var parts, plain []string
	for _, it := range x.Items {
		if rg, ok := it.(*query.RangeLit); ok {
			if l.kind != KindInt && l.kind != KindUnknown {
				return val{}, t.errAt(it, "a range (%s) needs an integer on the left of IN, not %s", show(it), l.kind)
			}
			c := "(" + l.sql + " BETWEEN " + t.value(rg.Start) + " AND " + t.value(rg.Stop)
			if rg.Stride > 1 {
				c += " AND (" + l.sql + " - " + t.value(rg.Start) + ") % " + t.value(rg.Stride) + " = 0"
			}
			parts = append(parts, c+")")
			continue
		}
		v, err := t.expr(it)
		if err != nil {
			return val{}, err
		}
		items := []val{v}
		if v.list != nil {
			items = v.list
		}
		for _, item := range items {
			switch {
			case item.kind == KindNull:
				parts = append(parts, "("+l.sql+" IS NULL)")
			case !agree(item.kind) || item.kind == KindTimespan || item.kind == KindRegion:
				return val{}, t.errAt(it, "column types for membership test %s do not agree (%s, %s)", show(x), l.kind, item.kind)
			default:
				plain = append(plain, item.sql)
			}
		}
	}
	if len(plain) > 0 {
		parts = append(parts, l.sql+" IN ("+strings.Join(plain, ", ")+")")
	}
	if len(parts) == 0 {
		parts = append(parts, "1 = 0") // an empty bound list
	}
	s := "(" + strings.Join(parts, " OR ") + ")"
	if x.Not {
		s = "(NOT " + s + ")"
	}
	return val{sql: s, kind: KindBool}, nil
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

// regionOverlaps translates ELEMENT.region OVERLAPS REGION (either order); ok
// is false when neither side is a region column.
func (t *translator) regionOverlaps(x *query.Binary) (string, bool, error) {
	elem, other := t.regionColumn(x.X), x.Y
	if elem == "" {
		elem, other = t.regionColumn(x.Y), x.X
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
	if t.reg == nil {
		return "", true, t.errAt(x, "region overlaps are not supported here")
	}
	if t.regionColumn(other) != "" {
		return "", true, t.errAt(x, "OVERLAPS between two region columns is not supported in a where expression: the query joins spatial dimensions (e.g. visit and tract) by their overlap already")
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
	return sqlText, true, nil
}

// regionColumn is the element whose region column the identifier n names ("" otherwise).
func (t *translator) regionColumn(n query.Node) string {
	id, ok := n.(*query.Ident)
	if !ok || id.IsNull() {
		return ""
	}
	if _, bound := t.binds[id.Name()]; bound && len(id.Parts) == 1 {
		return ""
	}
	col, err := t.resolve(id.Parts)
	if err != nil || col.Kind != KindRegion {
		return ""
	}
	return col.Element
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
