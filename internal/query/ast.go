// Package query parses daf_butler's user "where" expression language into an
// abstract syntax tree. It knows the syntax only: what an identifier names, and
// whether the types of operands agree, is for the planner that walks the tree.
//
// The grammar is upstream's (lsst.daf.butler queries/expressions/parser):
//
//	expr      : expr OR expr | expr AND expr | NOT expr | compare
//	compare   : compare (= | != | < | <= | > | >= | OVERLAPS) predicate | predicate
//	predicate : arith [NOT] IN ( item, ... ) | arith
//	arith     : arith (+ | - | * | / | %) arith | simple      (* / % bind tighter)
//	simple    : literal | identifier | :bind | call | + simple | - simple
//	          | ( expr ) | ( expr , expr )
//
// AND binds tighter than OR, NOT tighter than both; the comparison operators and
// OVERLAPS form one left-associative level (a = b < c is (a = b) < c), as in
// upstream's grammar whatever its precedence table says.
package query

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gobutler/butler/timespan"
)

// Node is a node of the syntax tree. String renders it as a canonical
// S-expression, e.g. "(= instrument 'LATISS')"; Format renders it as expression text.
type Node interface {
	Pos() Position
	String() string
}

// Ident is an identifier: a dimension, a field, element.field, or
// element.timespan.begin. Case is kept as written. A bare identifier may also be a
// legacy bind name, and NULL (any case) is the null constant unless bound: the
// planner decides.
type Ident struct {
	At    Position
	Parts []string
}

// Bind is a bind name, :name (Name without the colon).
type Bind struct {
	At   Position
	Name string
}

// StringLit is a quoted string; there are no escapes.
type StringLit struct {
	At    Position
	Value string
}

// IntLit is an integer; a sign directly before a number is folded into it.
type IntLit struct {
	At    Position
	Value int64
}

// FloatLit is a number written with a decimal point or an exponent.
type FloatLit struct {
	At    Position
	Value float64
}

// TimeLit is T'…'. TAI is nanoseconds since 1970-01-01 00:00:00 TAI, clamped to
// [timespan.Min, timespan.Max] like every time daf_butler stores; Clamped says it
// was (upstream logs a warning then). Text is what was written between the quotes.
type TimeLit struct {
	At      Position
	TAI     int64
	Text    string
	Clamped bool
}

// RangeLit is start..stop[:stride], both ends included; Stride is 1 when not
// written. Upstream gives it meaning only as an IN item.
type RangeLit struct {
	At                  Position
	Start, Stop, Stride int64
}

// UUIDLit is UUID('…'), a literal (so it may stand in an IN list).
type UUIDLit struct {
	At    Position
	Value [16]byte
}

// Tuple is (begin, end), a timespan; the grammar allows exactly two items.
type Tuple struct {
	At    Position
	Items []Node
}

// Unary is "-", "+" or "NOT" applied to X.
type Unary struct {
	At Position
	Op string
	X  Node
}

// Binary is X Op Y, Op one of OR AND = != < <= > >= OVERLAPS + - * / %
// (keywords upper case). At is the operator's position.
type Binary struct {
	At   Position
	Op   string
	X, Y Node
}

// In is X IN (Items...) or, with Not, X NOT IN (...). Items are literals
// (ranges included), simple identifiers, bind names and UUIDs. At is the position
// of IN (or of NOT).
type In struct {
	At    Position
	X     Node
	Items []Node
	Not   bool
}

// Call is one of the functions POINT, CIRCLE, BOX, POLYGON, REGION and GLOB, Name
// upper case, its arguments checked for number and kind as upstream does.
type Call struct {
	At   Position
	Name string
	Args []Node
}

func (n *Ident) Pos() Position     { return n.At }
func (n *Bind) Pos() Position      { return n.At }
func (n *StringLit) Pos() Position { return n.At }
func (n *IntLit) Pos() Position    { return n.At }
func (n *FloatLit) Pos() Position  { return n.At }
func (n *TimeLit) Pos() Position   { return n.At }
func (n *RangeLit) Pos() Position  { return n.At }
func (n *UUIDLit) Pos() Position   { return n.At }
func (n *Tuple) Pos() Position     { return n.At }
func (n *Unary) Pos() Position     { return n.At }
func (n *Binary) Pos() Position    { return n.At }
func (n *In) Pos() Position        { return n.At }
func (n *Call) Pos() Position      { return n.At }

// Name is the identifier as written, parts joined with dots.
func (n *Ident) Name() string { return strings.Join(n.Parts, ".") }

// IsNull reports whether the identifier spells NULL, which upstream treats as the
// null constant (usable only in = NULL and != NULL) unless a bind of that name exists.
func (n *Ident) IsNull() bool { return len(n.Parts) == 1 && strings.EqualFold(n.Parts[0], "null") }

// UUID returns the canonical lower-case hyphenated form.
func (n *UUIDLit) UUID() string { return formatUUID(n.Value) }

func (n *Ident) String() string     { return n.Name() }
func (n *Bind) String() string      { return ":" + n.Name }
func (n *StringLit) String() string { return quote(n.Value) }
func (n *IntLit) String() string    { return strconv.FormatInt(n.Value, 10) }
func (n *FloatLit) String() string  { return formatFloat(n.Value) }
func (n *TimeLit) String() string   { return "T'" + timespan.FormatTAI(n.TAI) + "/tai'" }
func (n *UUIDLit) String() string   { return "(uuid '" + n.UUID() + "')" }

func (n *RangeLit) String() string {
	if n.Stride == 1 {
		return fmt.Sprintf("(range %d %d)", n.Start, n.Stop)
	}
	return fmt.Sprintf("(range %d %d %d)", n.Start, n.Stop, n.Stride)
}

func (n *Tuple) String() string { return sexpr("tuple", n.Items...) }
func (n *Unary) String() string { return sexpr(strings.ToLower(n.Op), n.X) }
func (n *Binary) String() string {
	return sexpr(strings.ToLower(n.Op), n.X, n.Y)
}
func (n *In) String() string {
	op := "in"
	if n.Not {
		op = "not-in"
	}
	return sexpr(op, append([]Node{n.X}, n.Items...)...)
}
func (n *Call) String() string { return sexpr(strings.ToLower(n.Name), n.Args...) }

func sexpr(head string, args ...Node) string {
	var b strings.Builder
	b.WriteByte('(')
	b.WriteString(head)
	for _, a := range args {
		b.WriteByte(' ')
		b.WriteString(a.String())
	}
	b.WriteByte(')')
	return b.String()
}

// quote uses single quotes unless the value holds one (possible only when it was
// written in double quotes); a value never holds both.
func quote(s string) string {
	if strings.ContainsRune(s, '\'') {
		return `"` + s + `"`
	}
	return "'" + s + "'"
}

// formatFloat is the shortest text that reads back as the same float, always with
// a point or an exponent so that it stays a float.
func formatFloat(v float64) string {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

func formatUUID(u [16]byte) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, 36)
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[c>>4], hex[c&15])
	}
	return string(b)
}

// children lists the direct sub-nodes of n, in source order.
func children(n Node) []Node {
	switch n := n.(type) {
	case *Tuple:
		return n.Items
	case *Unary:
		return []Node{n.X}
	case *Binary:
		return []Node{n.X, n.Y}
	case *In:
		return append([]Node{n.X}, n.Items...)
	case *Call:
		return n.Args
	}
	return nil
}

// Walk calls fn for n and then, if fn returns true, for each of its children,
// depth first in source order. A nil n is not visited.
func Walk(n Node, fn func(Node) bool) {
	if n == nil || !fn(n) {
		return
	}
	for _, c := range children(n) {
		Walk(c, fn)
	}
}

// Names lists the identifiers used in n (dotted, as written), each once, in order
// of first use. It includes NULL and bare names that the planner may find to be
// legacy binds.
func Names(n Node) []string {
	var names []string
	seen := map[string]bool{}
	Walk(n, func(n Node) bool {
		if id, ok := n.(*Ident); ok && !seen[id.Name()] {
			seen[id.Name()] = true
			names = append(names, id.Name())
		}
		return true
	})
	return names
}

// Binds lists the bind names (without ':') used in n, each once, in order of first use.
func Binds(n Node) []string {
	var names []string
	seen := map[string]bool{}
	Walk(n, func(n Node) bool {
		if b, ok := n.(*Bind); ok && !seen[b.Name] {
			seen[b.Name] = true
			names = append(names, b.Name)
		}
		return true
	})
	return names
}

// Format renders n as expression text that Parse reads back into the same tree,
// with parentheses only where the grammar needs them, times written in TAI and
// numbers in canonical form. A nil n gives "".
func Format(n Node) string {
	var b strings.Builder
	format(&b, n, levelOr)
	return b.String()
}

// Binding levels, loosest first, following the grammar's layers.
const (
	levelOr      = iota + 1 // expr OR expr
	levelAnd                // expr AND expr
	levelNot                // NOT expr
	levelCompare            // = != < <= > >= OVERLAPS
	levelIn                 // arith [NOT] IN (...)
	levelAdd                // + -
	levelMul                // * / %
	levelUnary              // - x, + x
	levelPrimary
)

func level(n Node) int {
	switch n := n.(type) {
	case *Binary:
		switch n.Op {
		case "OR":
			return levelOr
		case "AND":
			return levelAnd
		case "+", "-":
			return levelAdd
		case "*", "/", "%":
			return levelMul
		}
		return levelCompare
	case *Unary:
		if n.Op == "NOT" {
			return levelNot
		}
		return levelUnary
	case *In:
		return levelIn
	}
	return levelPrimary
}

// format writes n, in parentheses if it binds looser than min.
func format(b *strings.Builder, n Node, min int) {
	if n == nil {
		return
	}
	if level(n) < min {
		b.WriteByte('(')
		defer b.WriteByte(')')
	}
	switch n := n.(type) {
	case *Ident:
		b.WriteString(n.Name())
	case *Bind:
		b.WriteString(":" + n.Name)
	case *StringLit:
		b.WriteString(quote(n.Value))
	case *IntLit:
		b.WriteString(strconv.FormatInt(n.Value, 10))
	case *FloatLit:
		b.WriteString(formatFloat(n.Value))
	case *TimeLit:
		b.WriteString(n.String())
	case *RangeLit:
		fmt.Fprintf(b, "%d..%d", n.Start, n.Stop)
		if n.Stride != 1 {
			fmt.Fprintf(b, ":%d", n.Stride)
		}
	case *UUIDLit:
		b.WriteString("UUID('" + n.UUID() + "')")
	case *Tuple:
		formatList(b, "", n.Items)
	case *Unary:
		if n.Op == "NOT" {
			b.WriteString("NOT ")
			format(b, n.X, levelNot)
			return
		}
		b.WriteString(n.Op)
		switch n.X.(type) {
		case *IntLit, *FloatLit, *RangeLit:
			// A sign before a number or a range would become part of it.
			format(b, n.X, levelPrimary+1)
		default:
			format(b, n.X, levelUnary)
		}
	case *Binary:
		// Left-associative: the left operand may sit at the same level.
		lhs, rhs := level(n), level(n)+1
		switch {
		case lhs == levelCompare:
			rhs = levelIn
		case lhs == levelMul:
			rhs = levelUnary
		}
		format(b, n.X, lhs)
		b.WriteString(" " + n.Op + " ")
		format(b, n.Y, rhs)
	case *In:
		format(b, n.X, levelAdd)
		if n.Not {
			b.WriteString(" NOT")
		}
		b.WriteString(" IN ")
		formatList(b, "", n.Items)
	case *Call:
		formatList(b, n.Name, n.Args)
	default:
		fmt.Fprintf(b, "<%T>", n)
	}
}

func formatList(b *strings.Builder, head string, items []Node) {
	b.WriteString(head + "(")
	for i, it := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		format(b, it, levelOr)
	}
	b.WriteByte(')')
}

// Idents returns every identifier of an expression, in order.
func Idents(n Node) []*Ident {
	var out []*Ident
	var walk func(Node)
	walk = func(n Node) {
		switch x := n.(type) {
		case *Ident:
			out = append(out, x)
		case *Tuple:
			for _, it := range x.Items {
				walk(it)
			}
		case *Unary:
			walk(x.X)
		case *Binary:
			walk(x.X)
			walk(x.Y)
		case *In:
			walk(x.X)
			for _, it := range x.Items {
				walk(it)
			}
		case *Call:
			for _, a := range x.Args {
				walk(a)
			}
		}
	}
	walk(n)
	return out
}
