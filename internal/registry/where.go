package registry

import (
	"fmt"
	"strings"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/query"
	"github.com/gobutler/butler/internal/registry/sqldb"
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
// placeholders and their values.
func TranslateWhere(n query.Node, resolve Resolver, binds map[string]any) (string, []any, error) {
	tr := &translator{resolve: resolve, binds: binds}
	s, err := tr.expr(n)
	return s, tr.args, err
}

type translator struct {
	resolve Resolver
	binds   map[string]any
	args    []any
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
		s, err := t.expr(x.X)
		if err != nil {
			return "", err
		}
		if x.Op == "NOT" {
			return "(NOT " + s + ")", nil
		}
		return "(" + x.Op + s + ")", nil
	case *query.Binary:
		if x.Op == "OVERLAPS" {
			return t.overlaps(x)
		}
		l, err := t.expr(x.X)
		if err != nil {
			return "", err
		}
		r, err := t.expr(x.Y)
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
		return "", &WhereError{Pos: x.Pos(), Msg: fmt.Sprintf("%s(...) is not supported by this registry yet", x.Name)}
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
