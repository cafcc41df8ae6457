package query

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token. The rules follow daf_butler's ply lexer
// (parserLex.py): time literals before strings, ranges before numbers, qualified
// identifiers before simple ones, keywords only as simple identifiers.
type tokKind uint8

const (
	tEOF tokKind = iota
	tError
	tIdent  // simple identifier
	tQIdent // a.b or a.b.c
	tBind   // :name
	tString
	tTime
	tNumber
	tRange
	tLParen
	tRParen
	tComma
	tEq
	tNe
	tLt
	tLe
	tGt
	tGe
	tAdd
	tSub
	tMul
	tDiv
	tMod
	tAnd
	tOr
	tNot
	tIn
	tOverlaps
)

// keyword returns the keyword kind of a simple identifier, or tIdent.
func keyword(name string) tokKind {
	switch strings.ToUpper(name) {
	case "AND":
		return tAnd
	case "OR":
		return tOr
	case "NOT":
		return tNot
	case "IN":
		return tIn
	case "OVERLAPS":
		return tOverlaps
	}
	return tIdent
}

type token struct {
	kind tokKind
	off  int      // byte offset of the first character
	pos  Position // of the first character (not set for tError)
	text string   // the source text of the token
	val  string   // string/time contents, bind name, or the error message for tError
	// Range literal bounds, parsed by the lexer like upstream.
	start, stop, stride int64
}

// describe names a token for "expected X, found Y" messages.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tIdent, tQIdent:
		return fmt.Sprintf("identifier %s", t.text)
	case tBind:
		return fmt.Sprintf("bind name %s", t.text)
	case tString:
		return "string " + t.text
	case tTime:
		return "time literal " + t.text
	case tNumber:
		return "number " + t.text
	case tRange:
		return "range " + t.text
	case tAnd, tOr, tNot, tIn, tOverlaps:
		return strings.ToUpper(t.text)
	}
	return "'" + t.text + "'"
}

func isSpace(c byte) bool {
	// Python's \s, which upstream allows inside range literals; we allow it everywhere.
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
func isDigit(c byte) bool      { return '0' <= c && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) }

// lex splits src into tokens. It stops at the first lexical error, which becomes a
// tError token so that the parser reports it only when it gets there: an earlier
// grammar error wins, as with upstream's on-demand lexer.
func lex(src string) []token {
	toks := make([]token, 0, len(src)/4+2)
	i := 0
	at := posTracker{src: src, line: 1, col: 1}
	for {
		for i < len(src) && isSpace(src[i]) {
			i++
		}
		if i >= len(src) {
			return append(toks, token{kind: tEOF, off: len(src), pos: at.advance(len(src))})
		}
		t, n := lexOne(src, i)
		if t.kind != tError { // an error token carries its own offset
			t.off = i
			t.pos = at.advance(i)
			t.text = src[i : i+n]
		}
		toks = append(toks, t)
		if t.kind == tError {
			return toks
		}
		i += n
	}
}

func errTok(off int, format string, args ...any) (token, int) {
	return token{kind: tError, off: off, val: fmt.Sprintf(format, args...)}, 0
}

// lexOne reads the token at src[i:], returning it and its length. An error token
// carries its own offset, which may lie inside the token.
func lexOne(src string, i int) (token, int) {
	c := src[i]
	var next byte
	if i+1 < len(src) {
		next = src[i+1]
	}
	switch {
	case (c == 'T' || c == 't') && next == '\'':
		body, n, msg := quoted(src, i+1, '\'')
		if msg != "" {
			return errTok(i, "%s time literal", msg)
		}
		return token{kind: tTime, val: body}, n + 1
	case c == '\'' || c == '"':
		// Double quotes are our addition: upstream knows only single-quoted strings.
		body, n, msg := quoted(src, i, c)
		if msg != "" {
			return errTok(i, "%s string", msg)
		}
		return token{kind: tString, val: body}, n
	case isDigit(c) || (c == '-' && isDigit(next)):
		if t, n, ok := lexRange(src, i); ok {
			return t, n
		}
		if c == '-' {
			return token{kind: tSub}, 1
		}
		return token{kind: tNumber}, lexNumber(src, i)
	case c == '.' && isDigit(next):
		return token{kind: tNumber}, lexNumber(src, i)
	case isIdentStart(c):
		return lexIdent(src, i)
	case c == ':':
		if !isIdentStart(next) {
			return errTok(i, "expected a bind name after ':'")
		}
		j := i + 1
		for j < len(src) && isIdentChar(src[j]) {
			j++
		}
		if j < len(src) && src[j] == '.' && (j+1 >= len(src) || !isDigit(src[j+1])) {
			return errTok(j, "unexpected '.': a bind name is a simple identifier")
		}
		return token{kind: tBind, val: src[i+1 : j]}, j - i
	}
	two := ""
	if i+2 <= len(src) {
		two = src[i : i+2]
	}
	switch two {
	case "!=":
		return token{kind: tNe}, 2
	case "<=":
		return token{kind: tLe}, 2
	case ">=":
		return token{kind: tGe}, 2
	}
	switch c {
	case '(':
		return token{kind: tLParen}, 1
	case ')':
		return token{kind: tRParen}, 1
	case ',':
		return token{kind: tComma}, 1
	case '=':
		return token{kind: tEq}, 1
	case '<':
		return token{kind: tLt}, 1
	case '>':
		return token{kind: tGt}, 1
	case '+':
		return token{kind: tAdd}, 1
	case '-':
		return token{kind: tSub}, 1
	case '*':
		return token{kind: tMul}, 1
	case '/':
		return token{kind: tDiv}, 1
	case '%':
		return token{kind: tMod}, 1
	case '.':
		return errTok(i, "unexpected '.'")
	case '!':
		return errTok(i, "unexpected '!'; did you mean '!='?")
	}
	r, _ := utf8.DecodeRuneInString(src[i:])
	if r == utf8.RuneError {
		return errTok(i, "unexpected byte %#02x (not UTF-8)", c)
	}
	return errTok(i, "unexpected character %q", r)
}

// quoted reads a literal quoted with q starting at src[i] (the opening quote). The
// body ends at the next q: there are no escapes, and no newlines, like upstream's
// shortest-match '.*?'.
func quoted(src string, i int, q byte) (body string, n int, msg string) {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case q:
			return src[i+1 : j], j + 1 - i, ""
		case '\n':
			return "", 0, "newline in"
		}
	}
	return "", 0, "unterminated"
}

// lexRange matches upstream's -?\d+ \s* .. \s* -?\d+ (\s* : \s* [1-9]\d*)? at src[i:].
func lexRange(src string, i int) (token, int, bool) {
	j := i
	num := func() (string, bool) {
		s := j
		if j < len(src) && src[j] == '-' {
			j++
		}
		d := j
		for j < len(src) && isDigit(src[j]) {
			j++
		}
		return src[s:j], j > d
	}
	spaces := func() {
		for j < len(src) && isSpace(src[j]) {
			j++
		}
	}
	startText, _ := num()
	spaces()
	if !strings.HasPrefix(src[j:], "..") {
		return token{}, 0, false
	}
	j += 2
	spaces()
	stopText, ok := num()
	if !ok {
		return token{}, 0, false
	}
	end := j
	t := token{kind: tRange, stride: 1}
	var err error
	if t.start, err = strconv.ParseInt(startText, 10, 64); err != nil {
		t, n := errTok(i, "range bound %s is out of range", startText)
		return t, n, true
	}
	if t.stop, err = strconv.ParseInt(stopText, 10, 64); err != nil {
		t, n := errTok(i, "range bound %s is out of range", stopText)
		return t, n, true
	}
	spaces()
	if j < len(src) && src[j] == ':' {
		colon := j
		j++
		spaces()
		s := j
		for j < len(src) && isDigit(src[j]) {
			j++
		}
		switch {
		case j > s && src[s] != '0':
			if t.stride, err = strconv.ParseInt(src[s:j], 10, 64); err != nil {
				t, n := errTok(s, "range stride %s is out of range", src[s:j])
				return t, n, true
			}
			end = j
		case j > s || (j < len(src) && (src[j] == '-' || src[j] == '+')):
			// Upstream stops the range before ':' and fails on it; say why.
			t, n := errTok(colon, "range stride must be a positive integer")
			return t, n, true
		}
	}
	return t, end - i, true
}

// lexNumber matches \d+(\.\d*)?(e[-+]?\d+)? or \.\d+(e[-+]?\d+)?, case-insensitively.
func lexNumber(src string, i int) int {
	j := i
	for j < len(src) && isDigit(src[j]) {
		j++
	}
	if j < len(src) && src[j] == '.' {
		j++
		for j < len(src) && isDigit(src[j]) {
			j++
		}
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		k := j + 1
		if k < len(src) && (src[k] == '+' || src[k] == '-') {
			k++
		}
		d := k
		for k < len(src) && isDigit(src[k]) {
			k++
		}
		if k > d {
			j = k
		}
	}
	return j - i
}

// lexIdent reads a simple identifier, a keyword, or a qualified identifier of two
// or three parts.
func lexIdent(src string, i int) (token, int) {
	j := i
	parts := 0
	for {
		for j < len(src) && isIdentChar(src[j]) {
			j++
		}
		parts++
		if j >= len(src) || src[j] != '.' {
			break
		}
		if j+1 < len(src) && isDigit(src[j+1]) {
			break // "a.5" is an identifier and a number, a grammar error
		}
		if j+1 >= len(src) || !isIdentStart(src[j+1]) {
			return errTok(j, "expected a name after '.'")
		}
		if parts == 3 {
			return errTok(j, "unexpected '.': an identifier has at most three parts (element.field.bound)")
		}
		j++
	}
	if parts > 1 {
		return token{kind: tQIdent}, j - i
	}
	return token{kind: keyword(src[i:j])}, j - i
}

// posTracker computes the positions of increasing offsets in one pass, where a
// lineIndex would count each line's characters again for every token on it.
type posTracker struct {
	src            string
	off, line, col int
}

func (t *posTracker) advance(off int) Position {
	for t.off < off {
		r, size := utf8.DecodeRuneInString(t.src[t.off:])
		if r == '\n' {
			t.line, t.col = t.line+1, 1
		} else {
			t.col++
		}
		t.off += size
	}
	return Position{Offset: off, Line: t.line, Col: t.col}
}

// lineIndex converts any byte offset into a position.
type lineIndex struct {
	src    string
	starts []int // byte offset of each line's first character
}

func newLineIndex(src string) lineIndex {
	starts := []int{0}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			starts = append(starts, i+1)
		}
	}
	return lineIndex{src: src, starts: starts}
}

func (l lineIndex) pos(off int) Position {
	line := sort.Search(len(l.starts), func(i int) bool { return l.starts[i] > off }) - 1
	return Position{Offset: off, Line: line + 1, Col: utf8.RuneCountInString(l.src[l.starts[line]:off]) + 1}
}
