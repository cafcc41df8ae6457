package query

import (
	"fmt"
	"strconv"
	"strings"
)

// maxDepth bounds nesting (parentheses, unary operators, calls) so that hostile
// input cannot make the recursive parser and tree walkers go arbitrarily deep.
const maxDepth = 500

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

// Parse parses a where expression. An empty or all-blank expression gives a nil
// Node and no error (no constraint). Every error is a *SyntaxError wrapping
// errs.ErrInvalid.
func Parse(expr string) (Node, error) {
	p := &parser{src: expr, toks: lex(expr)}
	if p.peek().kind == tEOF {
		return nil, nil
	}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t, "an operator, AND, OR or the end of the expression")
	}
	return n, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

// peek2 is the token after the next one (EOF at the end, or the error token).
func (p *parser) peek2() token {
	if p.i+1 < len(p.toks) {
		return p.toks[p.i+1]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF && t.kind != tError {
		p.i++
	}
	return t
}

// errAt makes the error at byte offset off; errors are rare enough to index lines
// only then.
func (p *parser) errAt(off int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Pos: newLineIndex(p.src).pos(off), Msg: fmt.Sprintf(format, args...), Expr: p.src}
}

// unexpected reports t where something else was wanted, or the lexical error t
// carries.
func (p *parser) unexpected(t token, want string) *SyntaxError {
	if t.kind == tError {
		return p.errAt(t.off, "%s", t.val)
	}
	return p.errAt(t.off, "expected %s, found %s", want, t.describe())
}

func (p *parser) enter(t token) error {
	p.depth++
	if p.depth > maxDepth {
		return p.errAt(t.off, "expression is nested more than %d levels deep", maxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func (p *parser) expr() (Node, error) {
	x, err := p.and()
	for err == nil && p.peek().kind == tOr {
		op := p.next()
		var y Node
		if y, err = p.and(); err == nil {
			x = &Binary{At: op.pos, Op: "OR", X: x, Y: y}
		}
	}
	return x, err
}

func (p *parser) and() (Node, error) {
	x, err := p.not()
	for err == nil && p.peek().kind == tAnd {
		op := p.next()
		var y Node
		if y, err = p.not(); err == nil {
			x = &Binary{At: op.pos, Op: "AND", X: x, Y: y}
		}
	}
	return x, err
}

// not: NOT binds tighter than AND and OR but covers a whole comparison, so
// "NOT a = b AND c" is ((NOT (a = b)) AND c).
func (p *parser) not() (Node, error) {
	if p.peek().kind != tNot {
		return p.compare()
	}
	op := p.next()
	if err := p.enter(op); err != nil {
		return nil, err
	}
	defer p.leave()
	x, err := p.not()
	if err != nil {
		return nil, err
	}
	return &Unary{At: op.pos, Op: "NOT", X: x}, nil
}

func compareOp(k tokKind) (string, bool) {
	switch k {
	case tEq:
		return "=", true
	case tNe:
		return "!=", true
	case tLt:
		return "<", true
	case tLe:
		return "<=", true
	case tGt:
		return ">", true
	case tGe:
		return ">=", true
	case tOverlaps:
		return "OVERLAPS", true
	}
	return "", false
}

func (p *parser) compare() (Node, error) {
	x, err := p.predicate()
	for err == nil {
		op, ok := compareOp(p.peek().kind)
		if !ok {
			break
		}
		t := p.next()
		var y Node
		if y, err = p.predicate(); err == nil {
			x = &Binary{At: t.pos, Op: op, X: x, Y: y}
		}
	}
	return x, err
}

func (p *parser) predicate() (Node, error) {
	x, err := p.arith(0)
	if err != nil {
		return nil, err
	}
	t := p.peek()
	not := false
	switch {
	case t.kind == tIn:
	case t.kind == tNot && p.peek2().kind == tIn:
		not = true
		p.next()
	case t.kind == tNot:
		p.next()
		return nil, p.unexpected(p.peek(), "IN after NOT")
	default:
		return x, nil
	}
	p.next()
	open := p.peek()
	if open.kind != tLParen {
		return nil, p.unexpected(open, "'(' after IN")
	}
	p.next()
	if p.peek().kind == tRParen {
		return nil, p.errAt(p.peek().off, "empty IN list")
	}
	in := &In{At: t.pos, X: x, Not: not}
	for {
		item, err := p.inItem()
		if err != nil {
			return nil, err
		}
		in.Items = append(in.Items, item)
		switch c := p.next(); c.kind {
		case tComma:
			continue
		case tRParen:
			return in, nil
		default:
			return nil, p.unexpected(c, fmt.Sprintf("',' or ')' to close the IN list opened at %s", open.pos))
		}
	}
}

// inItem reads one IN list item: a literal (a signed number included), a simple
// identifier, a bind name or UUID('…'), as upstream's literal_or_bind_list allows.
func (p *parser) inItem() (Node, error) {
	t := p.peek()
	switch t.kind {
	case tAdd, tSub:
		if p.peek2().kind != tNumber {
			return nil, p.unexpected(p.peek2(), fmt.Sprintf("a number after '%s' in an IN list", t.text))
		}
		p.next()
		return p.number(p.next(), t)
	case tNumber, tString, tTime, tRange, tBind:
		return p.simple()
	case tIdent:
		if p.peek2().kind != tLParen {
			return p.simple()
		}
		n, err := p.call()
		if err != nil {
			return nil, err
		}
		if _, ok := n.(*UUIDLit); !ok {
			return nil, p.errAt(t.off, "%s(…) cannot be an IN list item; expected a literal, identifier, bind name or UUID('…')", strings.ToUpper(t.text))
		}
		return n, nil
	case tQIdent:
		return nil, p.errAt(t.off, "qualified identifier %s cannot be an IN list item; expected a literal, simple identifier, bind name or UUID('…')", t.text)
	}
	return nil, p.unexpected(t, "a literal, identifier, bind name or UUID('…') in the IN list")
}

// arith parses + - (level 0) and * / % (level 1), left-associative.
func (p *parser) arith(level int) (Node, error) {
	operand := func() (Node, error) {
		if level == 0 {
			return p.arith(1)
		}
		return p.simple()
	}
	x, err := operand()
	for err == nil {
		t := p.peek()
		if level == 0 && t.kind != tAdd && t.kind != tSub ||
			level == 1 && t.kind != tMul && t.kind != tDiv && t.kind != tMod {
			break
		}
		p.next()
		var y Node
		if y, err = operand(); err == nil {
			x = &Binary{At: t.pos, Op: t.text, X: x, Y: y}
		}
	}
	return x, err
}

func (p *parser) simple() (Node, error) {
	t := p.peek()
	if err := p.enter(t); err != nil {
		return nil, err
	}
	defer p.leave()
	switch t.kind {
	case tAdd, tSub:
		p.next()
		if p.peek().kind == tNumber {
			return p.number(p.next(), t)
		}
		x, err := p.simple()
		if err != nil {
			return nil, err
		}
		return &Unary{At: t.pos, Op: t.text, X: x}, nil
	case tNumber:
		return p.number(p.next(), token{})
	case tString:
		p.next()
		return &StringLit{At: t.pos, Value: t.val}, nil
	case tTime:
		p.next()
		tai, clamped, terr := parseTime(t.val)
		if terr != nil {
			return nil, p.errAt(t.off+2+terr.off, "%s", terr.msg)
		}
		return &TimeLit{At: t.pos, TAI: tai, Text: t.val, Clamped: clamped}, nil
	case tRange:
		p.next()
		return &RangeLit{At: t.pos, Start: t.start, Stop: t.stop, Stride: t.stride}, nil
	case tBind:
		p.next()
		return &Bind{At: t.pos, Name: t.val}, nil
	case tIdent, tQIdent:
		if p.peek2().kind == tLParen {
			if t.kind == tQIdent {
				return nil, p.errAt(t.off, "%s is not a function: a function name has no '.'", t.text)
			}
			return p.call()
		}
		p.next()
		return &Ident{At: t.pos, Parts: strings.Split(t.text, ".")}, nil
	case tLParen:
		p.next()
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		switch c := p.next(); c.kind {
		case tRParen:
			return x, nil
		case tComma:
			y, err := p.expr()
			if err != nil {
				return nil, err
			}
			if c := p.next(); c.kind != tRParen {
				if c.kind == tComma {
					return nil, p.errAt(c.off, "a tuple has two items (begin, end); expected ')' to close '(' opened at %s", t.pos)
				}
				return nil, p.unexpected(c, fmt.Sprintf("')' to close '(' opened at %s", t.pos))
			}
			return &Tuple{At: t.pos, Items: []Node{x, y}}, nil
		default:
			return nil, p.unexpected(c, fmt.Sprintf("')' to close '(' opened at %s", t.pos))
		}
	}
	return nil, p.unexpected(t, "an expression")
}

// number converts a numeric token, with the sign token before it if any.
func (p *parser) number(t, sign token) (Node, error) {
	neg := sign.kind == tSub
	at := t.pos
	if sign.kind != tEOF {
		at = sign.pos
	}
	if strings.ContainsAny(t.text, ".eE") {
		v, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, p.errAt(t.off, "number %s is out of range", t.text)
		}
		if neg {
			v = -v
		}
		return &FloatLit{At: at, Value: v}, nil
	}
	u, err := strconv.ParseUint(t.text, 10, 64)
	switch {
	case err != nil, !neg && u > 1<<63-1, neg && u > 1<<63:
		return nil, p.errAt(t.off, "integer %s is out of range (64-bit)", t.text)
	case neg:
		return &IntLit{At: at, Value: int64(-u)}, nil // wraps correctly for -2^63
	}
	return &IntLit{At: at, Value: int64(u)}, nil
}

// call parses name(args...) and checks it the way upstream's function_call does.
func (p *parser) call() (Node, error) {
	name := p.next()
	open := p.next() // '('
	var args []Node
	if p.peek().kind == tRParen {
		p.next()
	} else {
		for {
			a, err := p.expr()
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			c := p.next()
			if c.kind == tRParen {
				break
			}
			if c.kind != tComma {
				return nil, p.unexpected(c, fmt.Sprintf("',' or ')' to close the arguments of %s opened at %s", name.text, open.pos))
			}
		}
	}
	return p.checkCall(name, args)
}

func (p *parser) checkCall(name token, args []Node) (Node, error) {
	fn := strings.ToUpper(name.text)
	at := name.pos
	nargs := func(n int, what string) error {
		if len(args) != n {
			return p.errAt(name.off, "%s takes %s, got %d argument%s", fn, what, len(args), plural(len(args)))
		}
		return nil
	}
	numeric := func(what []string) error {
		for i, a := range args {
			switch a.(type) {
			case *IntLit, *FloatLit, *Bind, *Ident, *Unary, *Binary:
			default:
				return p.errAt(a.Pos().Offset, "%s %s must be a numeric expression or a bind name", fn, what[i%len(what)])
			}
		}
		return nil
	}
	switch fn {
	case "POINT":
		if err := nargs(2, "two arguments (ra, dec)"); err != nil {
			return nil, err
		}
	case "CIRCLE":
		if err := nargs(3, "three arguments (ra, dec, radius)"); err != nil {
			return nil, err
		}
		if err := numeric([]string{"ra", "dec", "radius"}); err != nil {
			return nil, err
		}
	case "BOX":
		if err := nargs(4, "four arguments (ra, dec, width, height)"); err != nil {
			return nil, err
		}
		if err := numeric([]string{"ra", "dec", "width", "height"}); err != nil {
			return nil, err
		}
	case "POLYGON":
		if len(args)%2 != 0 {
			return nil, p.errAt(name.off, "POLYGON takes an even number of arguments (ra, dec of each vertex), got %d", len(args))
		}
		if len(args) < 6 {
			return nil, p.errAt(name.off, "POLYGON needs at least three vertices (six arguments), got %d argument%s", len(args), plural(len(args)))
		}
		if err := numeric([]string{"vertex ra", "vertex dec"}); err != nil {
			return nil, err
		}
	case "REGION":
		if err := nargs(1, "one string argument (an IVOA SIAv2 POS string)"); err != nil {
			return nil, err
		}
		switch args[0].(type) {
		case *StringLit, *Bind, *Ident:
		default:
			return nil, p.errAt(args[0].Pos().Offset, "REGION argument must be a string or a bind name")
		}
	case "GLOB":
		if err := nargs(2, "two arguments (identifier, pattern)"); err != nil {
			return nil, err
		}
		if _, ok := args[0].(*Ident); !ok {
			return nil, p.errAt(args[0].Pos().Offset, "GLOB first argument must be an identifier")
		}
		switch args[1].(type) {
		case *StringLit, *Bind:
		default:
			return nil, p.errAt(args[1].Pos().Offset, "GLOB second argument must be a string or a bind name")
		}
	case "UUID":
		if err := nargs(1, "one string argument"); err != nil {
			return nil, err
		}
		s, ok := args[0].(*StringLit)
		if !ok {
			return nil, p.errAt(args[0].Pos().Offset, "UUID argument must be a string literal")
		}
		u, ok := parseUUID(s.Value)
		if !ok {
			return nil, p.errAt(args[0].Pos().Offset, "invalid UUID %q: expected 32 hexadecimal digits", s.Value)
		}
		return &UUIDLit{At: at, Value: u}, nil
	default:
		return nil, p.errAt(name.off, "unknown function %s; expected one of BOX, CIRCLE, GLOB, POINT, POLYGON, REGION, UUID", name.text)
	}
	return &Call{At: at, Name: fn, Args: args}, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// parseUUID accepts what Python's uuid.UUID(str) does: optional "urn:" and
// "uuid:" prefixes and braces, hyphens anywhere, then 32 hex digits.
func parseUUID(s string) ([16]byte, bool) {
	var u [16]byte
	s = strings.ReplaceAll(strings.ReplaceAll(s, "urn:", ""), "uuid:", "")
	s = strings.ReplaceAll(strings.Trim(s, "{}"), "-", "")
	if len(s) != 32 {
		return u, false
	}
	for i := 0; i < 32; i++ {
		c := s[i]
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			return u, false
		}
		u[i/2] |= v << (4 * (1 - i%2))
	}
	return u, true
}
